"""Which models a panel section offers: shipped with the extension, already in the model cache (GDImaging
files and MONAI bundle folders), or listed in the registry for download (GDImaging files and MONAI Model Zoo
bundles). Plain values only (no Qt, no MRML, no torch), so that a panel can list models before the user has
PyTorch and the listing is tested directly.

The registry file is gdbackend.models' own (registry.default_registry, which loads no torch); the registry is
read leniently here (a panel lists what it can), strictly by the download job. The cache folder is found as
registry.cache_dir finds it, without creating it: listing changes nothing.
"""
from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path

from gdbackend.models.download import digest_of
from gdbackend.models.registry import BUNDLE, BUNDLE_TASKS, default_registry

SHIPPED, CACHED, DOWNLOAD, FILE = "shipped", "cache", "download", "file"
# registry fields that say what a model expects of its input; optional, shown when present
EXPECTS = ("modality", "channels", "spacing")


@dataclass(frozen=True)
class ModelChoice:
    """One entry of a section's model list. `path` is None until a registry model is downloaded."""
    name: str
    source: str
    path: Path | None = None
    task: str | None = None
    size: int | None = None
    licence: str = ""
    description: str = ""
    modality: str = ""
    channels: tuple[str, ...] = ()
    spacing: tuple[float, ...] = ()
    kind: str = ""
    described: bool = False  # a registry entry describes it (so an unknown size is said to be unknown)

    @property
    def key(self) -> str:
        """What the settings keep to choose this model again next session."""
        return f"{FILE}:{self.path}" if self.source == FILE else f"{self.source}:{self.name}"

    @property
    def needsDownload(self) -> bool:
        return self.source == DOWNLOAD

    @property
    def text(self) -> str:
        """The combo box line: the name and where the model comes from."""
        where = {SHIPPED: "shipped", CACHED: "cached", FILE: "your file"}.get(self.source)
        if self.source == DOWNLOAD:
            where = f"download, {formatSize(self.size)}" if self.size else "download"
        return f"{self.name} ({where})"


def registryPath() -> Path:
    """$GDIMAGING_MODELS, else the registry shipped with the extension."""
    return default_registry()


def cacheFolder() -> Path:
    """$GDIMAGING_CACHE/models, else ~/.cache/gdimaging/models (not created: listing changes nothing)."""
    return Path(os.environ.get("GDIMAGING_CACHE") or Path.home() / ".cache" / "gdimaging") / "models"


def formatSize(size: int | None) -> str:
    if not size:
        return "size unknown"
    return f"{size / 1e6:.1f} MB" if size >= 1e5 else f"{size / 1e3:.0f} kB"


def readRegistry(path: Path | None = None) -> list[dict]:
    """The registry's entries as written; a missing file lists none. ValueError says what is wrong with a
    broken one (the download job checks each entry fully before fetching it)."""
    path = registryPath() if path is None else Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"The model registry {path.name} is not valid JSON ({e}).") from None
    models = data.get("models") if isinstance(data, dict) else None
    if not isinstance(models, list) or not all(isinstance(m, dict) and "name" in m for m in models):
        raise ValueError(f"The model registry {path.name} needs a 'models' list of entries with a name.")
    return models


def _fromEntry(entry: dict, source: str, path: Path | None) -> ModelChoice:
    return ModelChoice(
        name=str(entry["name"]), source=source, path=path, task=entry.get("task"),
        size=entry.get("size") if isinstance(entry.get("size"), int) else None,
        licence=str(entry.get("licence", "")), description=str(entry.get("description", "")),
        modality=str(entry.get("modality", "")), channels=tuple(str(c) for c in _list(entry, "channels")),
        spacing=tuple(float(s) for s in _list(entry, "spacing") if isinstance(s, (int, float))),
        kind=str(entry.get("kind", "")), described=True)


def _offered(entry: dict, task: str) -> bool:
    """An entry a section of `task` can run: of its task, and a bundle only where GDImaging runs bundles."""
    return entry.get("task") == task and (entry.get("kind") != BUNDLE or task in BUNDLE_TASKS)


@functools.lru_cache(maxsize=64)
def _digest(path: Path, size: int, mtime: int) -> str:
    """sha256 of a shipped file, hashed once per version of it (size and time key the cache)."""
    return digest_of(path, "sha256")


def shippedEntries(entries: dict[str, dict], registry: Path | None = None) -> tuple[dict[str, Path], list[str]]:
    """({name: file} of the registry's shipped models whose file is there and matches its sha256, [what is wrong
    with the others]). A shipped `file` is relative to the registry's folder, as gdbackend.models reads it."""
    folder = (registryPath() if registry is None else Path(registry)).parent
    found, problems = {}, []
    for name, entry in entries.items():
        if not isinstance(entry.get("file"), str):
            continue
        path = folder / entry["file"]
        if not path.is_file():
            problems.append(f"The shipped model {name} ({entry['file']}) is missing: reinstall the extension.")
        elif _digest(path, path.stat().st_size, path.stat().st_mtime_ns) != entry.get("sha256"):
            problems.append(f"The shipped model {name} ({entry['file']}) does not match its sha256: it is damaged; "
                            "reinstall the extension.")
        else:
            found[name] = path
    return found, problems


def _list(entry: dict, field: str) -> list:
    value = entry.get(field)
    return value if isinstance(value, list) else []


def _modelFiles(folder: Path) -> dict[str, Path]:
    """name -> model file (*.pt) or MONAI bundle folder (with configs/); hidden partial downloads left out."""
    if not folder.is_dir():
        return {}
    found = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith("."):
            continue
        if path.suffix == ".pt" and path.is_file():
            found[path.stem] = path
        elif path.is_dir() and (path / "configs").is_dir():
            found[path.name] = path
    return found


def listModels(task: str, registry: Path | None = None, cache: Path | None = None) -> list[ModelChoice]:
    """The models a section of `task` offers: shipped first, then those in the cache, then registry models to
    download. A file named after a registry entry takes the entry's details (task, licence, expectations);
    files no entry describes are offered to every section, their task is checked when they run."""
    entries = {str(e["name"]): e for e in readRegistry(registry)}
    return _choices(task, entries, shippedEntries(entries, registry)[0], cache)


def listModelsOrProblem(task: str) -> tuple[list[ModelChoice], str]:
    """(the models of `task`, "") or, when the registry is broken or a shipped model is damaged, (the models that
    can be used, what is wrong)."""
    try:
        entries = {str(e["name"]): e for e in readRegistry()}
    except ValueError as e:
        return _choices(task, {}, {}), str(e)
    files, problems = shippedEntries(entries)
    return _choices(task, entries, files), "\n".join(problems)


def _choices(task: str, entries: dict[str, dict], shippedFiles: dict[str, Path],
             cache: Path | None = None) -> list[ModelChoice]:
    """Shipped (the registry's shipped files, each checked against its sha256: a file the registry does not
    describe is not offered), cached, then to download; an entry with a shipped `file` is never downloaded."""
    choices: list[ModelChoice] = []
    seen: set[str] = set()
    folders = ((SHIPPED, shippedFiles), (CACHED, _modelFiles(cache or cacheFolder())))
    for source, files in folders:
        for name, path in files.items():
            entry = entries.get(name)
            unchecked = entry is not None and "file" in entry and name not in shippedFiles  # missing or damaged
            if name in seen or unchecked or (entry is not None and not _offered(entry, task)):
                continue
            seen.add(name)
            choices.append(_fromEntry(entry, source, path) if entry else ModelChoice(name, source, path))
    choices += [_fromEntry(e, DOWNLOAD, None) for name, e in entries.items()
                if name not in seen and "file" not in e and _offered(e, task)]
    return choices


def fileChoice(path: str | Path) -> ModelChoice:
    """A model the user picked outside the cache (a bundle folder used where it is)."""
    path = Path(path)
    return ModelChoice(path.stem if path.is_file() else path.name, FILE, path)


def defaultChoice(choices: list[ModelChoice]) -> ModelChoice | None:
    """The model a section starts with until the user picks one: the first shipped with the extension (ready to
    run, its checksum checked); none where the extension ships none for the task."""
    return next((c for c in choices if c.source == SHIPPED), None)


def choiceForKey(choices: list[ModelChoice], key: str | None) -> ModelChoice | None:
    """The choice a saved key names: one of `choices`, or the user's file if it still exists."""
    if not key:
        return None
    match = next((c for c in choices if c.key == key), None)
    if match is None and key.startswith(f"{FILE}:") and Path(key[len(FILE) + 1:]).exists():
        return fileChoice(key[len(FILE) + 1:])
    return match


def describe(choice: ModelChoice) -> str:
    """What a user should know before choosing a model: task, size, licence and what it expects."""
    lines = [choice.description] if choice.description else []
    facts = [f"task: {choice.task}" if choice.task else "task: checked when it runs"]
    if choice.kind == BUNDLE:
        facts.append("MONAI bundle")
    if choice.size or choice.described:
        facts.append(f"size: {formatSize(choice.size) if choice.size else 'unknown'}")
    if choice.licence:
        facts.append(f"licence: {choice.licence}")
    lines.append(", ".join(facts))
    expects = [f"modality {choice.modality}" if choice.modality else "",
               f"{len(choice.channels)} channel(s): {', '.join(choice.channels)}" if choice.channels else "",
               f"spacing {' x '.join(f'{s:g}' for s in choice.spacing)} mm" if choice.spacing else ""]
    if any(expects):
        lines.append("Expects " + "; ".join(e for e in expects if e) + ".")
    if choice.needsDownload:
        lines.append("Not downloaded yet: press Download (it runs in the background and can be cancelled).")
    elif choice.path is not None:
        lines.append(str(choice.path))
    return "\n".join(lines)
