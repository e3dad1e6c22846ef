"""The model registry (Resources/models.json) and the cache folder downloaded models live in.

Every entry is checked when read, so that a typo in the registry is reported by name before any
download starts, and a download can always be verified against the entry's sha256.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError

TASKS = ("segment", "classify", "detect")
FIELDS = ("name", "task", "description", "url", "sha256", "size", "labels", "licence")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class ModelEntry:
    name: str
    task: str
    description: str
    url: str
    sha256: str
    size: int
    labels: tuple[str, ...]
    licence: str

    @property
    def filename(self) -> str:
        return f"{self.name}.pt"


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


def _entry(raw: object, where: str) -> ModelEntry:
    if not isinstance(raw, dict):
        raise InputError(f"{where} is not an object with the fields {', '.join(FIELDS)}: fix the registry.")
    missing = [f for f in FIELDS if f not in raw]
    if missing:
        raise InputError(f"{where} lacks {', '.join(missing)}: every model needs {', '.join(FIELDS)}.")
    name, url = str(raw["name"]), str(raw["url"])
    where = f"{where} ({name})"
    problems = []
    if not NAME.match(name):
        problems.append("name must be letters, digits, '.', '_' or '-'")
    if raw["task"] not in TASKS:
        problems.append(f"task must be one of {', '.join(TASKS)}")
    if not url.startswith(("https://", "http://")):
        problems.append("url must be http:// or https://")
    if not isinstance(raw["sha256"], str) or not _SHA256.match(raw["sha256"]):
        problems.append("sha256 must be 64 lower-case hex digits")
    if not isinstance(raw["size"], int) or isinstance(raw["size"], bool) or raw["size"] <= 0:
        problems.append("size must be a positive number of bytes")
    if not isinstance(raw["labels"], list) or not all(isinstance(x, str) for x in raw["labels"]):
        problems.append("labels must be a list of names")
    if problems:
        raise InputError(f"{where}: {'; '.join(problems)}.")
    return ModelEntry(name, raw["task"], str(raw["description"]), url, raw["sha256"], raw["size"],
                      tuple(raw["labels"]), str(raw["licence"]))


def read_registry(path: str | Path | None = None) -> list[ModelEntry]:
    """Every entry of a registry file, checked; names must be unique."""
    path = Path(path) if path is not None else default_registry()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"Model registry not found: {path}. Set GDIMAGING_MODELS to a models.json file.") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"Model registry {path} is not valid JSON ({e}): fix the file.") from None
    if not isinstance(data, dict) or not isinstance(data.get("models"), list):
        raise InputError(f"Model registry {path} needs a top-level object with a 'models' list.")
    entries = [_entry(raw, f"{path.name} model #{i + 1}") for i, raw in enumerate(data["models"])]
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
