"""The model registry (Resources/models.json) and the cache folder downloaded models live in.

Every entry is checked when read, so that a typo in the registry is reported by name before any
download starts, and every file can be verified against the entry's checksum: sha256 for GDImaging's own
files, the SHA-1 the MONAI Model Zoo publishes for its bundle archives (its models/model_info.json).

No torch here: the panels list the registry before PyTorch is installed.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError

TASKS = ("segment", "classify", "detect")
MODEL, BUNDLE = "model", "bundle"  # a GDImaging .pt file; a MONAI bundle zip, unpacked into a folder
KINDS = (MODEL, BUNDLE)
BUNDLE_TASKS = ("segment", "detect")  # the tasks GDImaging runs MONAI bundles for (segment/, detect/bundle/)
REQUIRED = ("name", "task", "description", "size", "labels", "licence")
OPTIONAL = ("kind", "version", "modality", "channels", "spacing", "url", "file", "sha256", "sha1")
UNKNOWN = "unknown"  # the size of a file whose publisher does not give it (the zoo does not)
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
DIGESTS = {"sha256": re.compile(r"^[0-9a-f]{64}$"), "sha1": re.compile(r"^[0-9a-f]{40}$")}


@dataclass(frozen=True)
class ModelEntry:
    """One registry entry. Exactly one of `url` (downloaded into the cache) and `file` (shipped in the
    extension, relative to the registry's folder) is set, and exactly one of `sha256` and `sha1`.

    Args:
        size: bytes of the file to download (a bundle: its zip), None when the publisher does not say.
        channels: the input channels' names, in the order the model takes them.
        spacing: the voxel spacing (mm, x y z) the model resamples to; () when it takes images as given.
        labels: the output labels' names (background left out), in output order.
    """
    name: str
    task: str
    description: str
    size: int | None
    labels: tuple[str, ...]
    licence: str
    kind: str = MODEL
    version: str = ""
    modality: str = ""
    channels: tuple[str, ...] = ()
    spacing: tuple[float, ...] = ()
    url: str | None = None
    file: Path | None = None
    sha256: str | None = None
    sha1: str | None = None

    @property
    def checksum(self) -> tuple[str, str]:
        """(algorithm, hex digest) the file must match."""
        return ("sha256", self.sha256) if self.sha256 else ("sha1", self.sha1)

    @property
    def filename(self) -> str:
        """The name in the cache: NAME.pt, or the bundle's folder NAME."""
        return self.name if self.kind == BUNDLE else f"{self.name}.pt"

    @property
    def shipped(self) -> bool:
        return self.file is not None


def default_registry() -> Path:
    """$GDIMAGING_MODELS, else the registry shipped in the extension's Resources folder."""
    env = os.environ.get("GDIMAGING_MODELS")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "Resources" / "models.json"


def cache_dir() -> Path:
    """$GDIMAGING_CACHE/models, else ~/.cache/gdimaging/models; created private to the user."""
    root = Path(os.environ.get("GDIMAGING_CACHE") or Path.home() / ".cache" / "gdimaging")
    folder = root / "models"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def _names(raw: dict, field: str, problems: list[str]) -> tuple[str, ...]:
    value = raw.get(field, [])
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        problems.append(f"{field} must be a list of names")
        return ()
    return tuple(value)


def _spacing(raw: dict, problems: list[str]) -> tuple[float, ...]:
    value = raw.get("spacing") or []
    if not isinstance(value, list) or not all(isinstance(s, (int, float)) and not isinstance(s, bool) and s > 0
                                              for s in value):
        problems.append("spacing must be a list of positive millimetres (or null: images taken as given)")
        return ()
    return tuple(float(s) for s in value)


def _source_problems(raw: dict, kind: str) -> list[str]:
    """Where the file comes from and how it is checked: url xor file, sha256 xor sha1, a size for a shipped file."""
    problems = []
    url, file = raw.get("url"), raw.get("file")
    if (url is None) == (file is None):
        problems.append("give either url (downloaded) or file (shipped in the extension), not both or neither")
    if url is not None and not (isinstance(url, str) and url.startswith(("https://", "http://"))):
        problems.append("url must be http:// or https://")
    if file is not None:
        parts = Path(str(file)).parts
        if not isinstance(file, str) or Path(file).is_absolute() or ".." in parts or not file.endswith(".pt"):
            problems.append("file must be a .pt path inside the extension's Resources folder, e.g. Models/NAME.pt")
        if kind != MODEL:
            problems.append("a shipped file must be a GDImaging model (kind model)")
    given = [a for a in DIGESTS if a in raw]
    if len(given) != 1:
        problems.append("give one checksum: sha256 (64 hex digits) or sha1 (40 hex digits)")
    elif not isinstance(raw[given[0]], str) or not DIGESTS[given[0]].match(raw[given[0]]):
        problems.append(f"{given[0]} must be {64 if given[0] == 'sha256' else 40} lower-case hex digits")
    size = raw.get("size")
    if not (size == UNKNOWN and file is None) and not (isinstance(size, int) and not isinstance(size, bool)
                                                       and size > 0):
        problems.append("size must be a positive number of bytes" + (f" (or \"{UNKNOWN}\")" if file is None else ""))
    return problems


def _entry(raw: object, where: str, folder: Path) -> ModelEntry:
    if not isinstance(raw, dict):
        raise InputError(f"{where} is not an object with the fields {', '.join(REQUIRED)}: fix the registry.")
    missing = [f for f in REQUIRED if f not in raw]
    if missing:
        raise InputError(f"{where} lacks {', '.join(missing)}: every model needs {', '.join(REQUIRED)}.")
    unknown = sorted(set(raw) - set(REQUIRED) - set(OPTIONAL))
    name, kind = str(raw["name"]), raw.get("kind", MODEL)
    where = f"{where} ({name})"
    problems = [f"unknown field(s) {', '.join(unknown)}"] if unknown else []
    if not NAME.match(name):
        problems.append("name must be letters, digits, '.', '_' or '-'")
    if raw["task"] not in TASKS:
        problems.append(f"task must be one of {', '.join(TASKS)}")
    if kind not in KINDS:
        problems.append(f"kind must be one of {', '.join(KINDS)}")
    problems += _source_problems(raw, kind)
    labels, channels, spacing = _names(raw, "labels", problems), _names(raw, "channels", problems), \
        _spacing(raw, problems)
    if problems:
        raise InputError(f"{where}: {'; '.join(problems)}.")
    return ModelEntry(
        name, raw["task"], str(raw["description"]), None if raw["size"] == UNKNOWN else raw["size"], labels,
        str(raw["licence"]), kind, str(raw.get("version", "")), str(raw.get("modality", "")), channels, spacing,
        raw.get("url"), folder / raw["file"] if "file" in raw else None, raw.get("sha256"), raw.get("sha1"))


def read_registry(path: str | Path | None = None) -> list[ModelEntry]:
    """Every entry of a registry file, checked; names must be unique. A shipped `file` is relative to the
    registry's folder (Resources/ for the extension's own registry)."""
    path = Path(path) if path is not None else default_registry()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"Model registry not found: {path}. Set GDIMAGING_MODELS to a models.json file.") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"Model registry {path} is not valid JSON ({e}): fix the file.") from None
    if not isinstance(data, dict) or not isinstance(data.get("models"), list):
        raise InputError(f"Model registry {path} needs a top-level object with a 'models' list.")
    entries = [_entry(raw, f"{path.name} model #{i + 1}", path.parent) for i, raw in enumerate(data["models"])]
    names = [e.name for e in entries]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InputError(f"Model registry {path} lists {', '.join(duplicates)} more than once: keep one entry each.")
    return entries


def find(name: str, path: str | Path | None = None) -> ModelEntry:
    entries = read_registry(path)
    for entry in entries:
        if entry.name == name:
            return entry
    known = ", ".join(e.name for e in entries) or "none"
    raise InputError(f"No model named {name!r} in the registry (known: {known}): check the name with gd models list.")
