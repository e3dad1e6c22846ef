"""Models in the local cache: fetched from the registry, or imported from a local file. Either way the
file is checked to be a GDImaging model of the right task (loaded as data, weights only) before use."""
from __future__ import annotations

import shutil
from pathlib import Path

from ..errors import GDError, InputError
from ..train import load_model_file
from ..volume import write_atomic
from .download import Progress, download, sha256_of
from .registry import NAME, ModelEntry, cache_dir, find


def _verified(path: Path, task: str | None) -> Path:
    """`path` if it is a GDImaging model (of `task`); otherwise it is removed and the error raised."""
    try:
        load_model_file(path, task=task)
    except GDError:
        path.unlink(missing_ok=True)
        raise
    return path


def fetch(model: str | ModelEntry, registry: str | Path | None = None, progress: Progress | None = None) -> Path:
    """The cached file of a registry model, downloaded (and checked) first if it is not there yet."""
    entry = model if isinstance(model, ModelEntry) else find(model, registry)
    dest = cache_dir() / entry.filename
    if dest.is_file():
        if sha256_of(dest) == entry.sha256:
            return dest
        dest.unlink()  # changed since it was checked: fetch it again
    download(entry.url, dest, entry.sha256, entry.size, progress)
    return _verified(dest, entry.task)


def import_model(path: str | Path, name: str | None = None, task: str | None = None) -> Path:
    """Copy a local model file into the cache (as NAME.pt) once it loads as a GDImaging model."""
    path = Path(path)
    load_model_file(path, task=task)
    name = name or path.stem
    if not NAME.match(name):
        raise InputError(f"Model name {name!r} must be letters, digits, '.', '_' or '-': choose another name.")
    return write_atomic(cache_dir() / f"{name}.pt", lambda tmp: shutil.copyfile(path, tmp))


def cached() -> list[Path]:
    """Model files in the cache (partial downloads are hidden and left out)."""
    return sorted(p for p in cache_dir().glob("*.pt") if not p.name.startswith("."))
