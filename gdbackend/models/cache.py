"""Models in the local cache: fetched from the registry, or imported from a local file; and the models shipped
inside the extension. A GDImaging file is checked to be a model of the right task (loaded as data, weights
only) before use; a MONAI bundle is unpacked from its checked zip into a folder of its own.

A fetched bundle folder records where it came from (`.gdimaging-source.json` inside it, written before the
folder is renamed into place), so that a later fetch of the same version makes no request at all and a
folder the registry did not put there is never overwritten.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from ..errors import GDError, InputError, ModelError
from ..train import load_model_file
from ..volume import write_atomic
from .archive import unpack_bundle
from .download import Progress, digest_of, download
from .registry import BUNDLE, NAME, ModelEntry, cache_dir, find

SOURCE = ".gdimaging-source.json"


def _verified(path: Path, task: str | None) -> Path:
    """`path` if it is a GDImaging model (of `task`); otherwise it is removed and the error raised."""
    try:
        load_model_file(path, task=task)
    except GDError:
        path.unlink(missing_ok=True)
        raise
    return path


def shipped_file(entry: ModelEntry) -> Path:
    """The extension's own copy of a shipped model, checked against the registry's sha256."""
    if not entry.file.is_file():
        raise ModelError(f"The model {entry.name} should ship with the extension as {entry.file}, which is missing: "
                         "reinstall the extension.")
    algorithm, digest = entry.checksum
    if digest_of(entry.file, algorithm) != digest:
        raise ModelError(f"The shipped model {entry.file} does not match its {algorithm} in the registry: it is "
                         "damaged or was changed; reinstall the extension.")
    return entry.file


def _source(folder: Path) -> dict:
    try:
        record = json.loads((folder / SOURCE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def cached_path(entry: ModelEntry) -> Path | None:
    """The entry's file or bundle folder if it is here and matches the entry (no request is made); else None.
    A shipped entry is always here (ModelError if its file is missing or damaged)."""
    if entry.shipped:
        return shipped_file(entry)
    dest = cache_dir() / entry.filename
    algorithm, digest = entry.checksum
    if entry.kind == BUNDLE:
        return dest if dest.is_dir() and _source(dest).get(algorithm) == digest else None
    return dest if dest.is_file() and digest_of(dest, algorithm) == digest else None


def fetch(model: str | ModelEntry, registry: str | Path | None = None, progress: Progress | None = None,
          unpack_progress: Progress | None = None) -> Path:
    """The usable file or bundle folder of a registry model: shipped, already cached, or downloaded (checked)
    and, for a bundle, unpacked into the cache first.

    Args:
        progress: progress(bytes received, total or None) during the download; raising Cancelled from it stops
            the download, keeping the bytes received (hidden) for the next fetch.
        unpack_progress: progress(bytes unpacked, total) while a bundle is unpacked; it may raise Cancelled too.
    """
    entry = model if isinstance(model, ModelEntry) else find(model, registry)
    found = cached_path(entry)
    if found is not None:
        return found
    if entry.kind == BUNDLE:
        return _fetch_bundle(entry, progress, unpack_progress)
    dest = cache_dir() / entry.filename
    dest.unlink(missing_ok=True)  # changed since it was checked: fetch it again
    algorithm, digest = entry.checksum
    download(entry.url, dest, digest, entry.size, progress, algorithm=algorithm)
    return _verified(dest, entry.task)


def _fetch_bundle(entry: ModelEntry, progress: Progress | None, unpack_progress: Progress | None) -> Path:
    """Download the bundle's zip (hidden, checked), unpack it beside the cache and rename it into place; the
    checked zip is kept only while a cancel of the unpacking may need it again."""
    cache = cache_dir()
    dest = cache / entry.name
    if dest.exists() and not _source(dest):
        raise InputError(f"{dest} exists and was not fetched from the registry: move it elsewhere (it is left as it "
                         f"is) and fetch {entry.name} again.")
    archive = cache / f".{entry.name}.zip"
    algorithm, digest = entry.checksum
    if not (archive.is_file() and digest_of(archive, algorithm) == digest):
        download(entry.url, archive, digest, entry.size, progress, algorithm=algorithm)
    staging = Path(tempfile.mkdtemp(prefix=f".{entry.name}.new-", dir=cache))
    try:
        unpacked = unpack_bundle(archive, staging / entry.name, unpack_progress)
        record = {"name": entry.name, "version": entry.version, "url": entry.url, algorithm: digest}
        (unpacked / SOURCE).write_text(json.dumps(record, indent=1), encoding="utf-8")
        _replace_folder(unpacked, dest)
    except ModelError:
        archive.unlink(missing_ok=True)  # checked against the registry, yet not a usable bundle: keep nothing
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    archive.unlink(missing_ok=True)
    return dest


def _replace_folder(new: Path, dest: Path) -> None:
    """Rename `new` onto `dest`; an older fetched version there is moved aside first and removed after."""
    if not dest.exists():
        os.replace(new, dest)
        return
    old = new.parent / f"{dest.name}.old"
    os.replace(dest, old)
    try:
        os.replace(new, dest)
    except OSError:
        os.replace(old, dest)
        raise


def import_model(path: str | Path, name: str | None = None, task: str | None = None) -> Path:
    """Copy a local model file into the cache (as NAME.pt) once it loads as a GDImaging model."""
    path = Path(path)
    load_model_file(path, task=task)
    name = name or path.stem
    if not NAME.match(name):
        raise InputError(f"Model name {name!r} must be letters, digits, '.', '_' or '-': choose another name.")
    return write_atomic(cache_dir() / f"{name}.pt", lambda tmp: shutil.copyfile(path, tmp))


def cached() -> list[Path]:
    """Model files and bundle folders in the cache (partial downloads and unpacking are hidden and left out)."""
    return sorted(p for p in cache_dir().iterdir() if not p.name.startswith(".")
                  and ((p.suffix == ".pt" and p.is_file()) or (p / "configs").is_dir()))
