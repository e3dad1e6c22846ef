"""Unpack a MONAI bundle zip safely: the archive is checked whole before a byte is written, so a zip that
would write outside its folder (an absolute path, `..`), plant a link, or fill the disk (an uncompressed
total far beyond any bundle's, or far beyond its own size) is refused and nothing is unpacked.

The Model Zoo's zips hold `NAME/configs/...`, `NAME/models/model.pt`; the bundle folder is the one folder
with configs/ in it, wherever the zip puts it. It is written into a hidden temporary folder beside the
cache and renamed into place, so the cache only ever holds whole bundles.
"""
from __future__ import annotations

import os
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from ..errors import ModelError
from ..resources import check_disk_space
from .download import SPACE_HINT

MAX_BYTES = 16 * 2**30  # unpacked: the largest zoo bundles (VISTA-3D, whole-body CT) stay far below 2 GB
MAX_RATIO = 100         # unpacked / packed: weights barely compress, so far more is a zip bomb
MAX_MEMBERS = 10_000
CHUNK = 1 << 20


def _member_problem(info: zipfile.ZipInfo) -> str:
    """Why a zip member may not be unpacked, or ""."""
    name = info.filename
    mode = info.external_attr >> 16
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return "an absolute path"
    if "\\" in name or ".." in PurePosixPath(name).parts:
        return "a path leading out of its folder ('..' or '\\')"
    kind = stat.S_IFMT(mode)  # 0 when the zip records no file type (Windows zips, Python's writestr)
    if kind == stat.S_IFLNK:
        return "a symbolic link"
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        return "a special file (device, pipe or socket)"
    return ""


def check_archive(archive: zipfile.ZipFile, packed_bytes: int, max_bytes: int = MAX_BYTES) -> list[zipfile.ZipInfo]:
    """The members of a zip that is safe to unpack; ModelError names the first problem otherwise.

    Args:
        packed_bytes: the archive file's size, against which the unpacked total is judged.
        max_bytes: the largest unpacked total accepted.
    """
    members = archive.infolist()
    if len(members) > MAX_MEMBERS:
        raise ModelError(f"The archive holds {len(members)} files, more than a model bundle ever does: refused.")
    for info in members:
        problem = _member_problem(info)
        if problem:
            raise ModelError(f"The archive member {info.filename!r} is {problem}: the archive is refused and nothing "
                             "was unpacked. Do not use this file.")
    total = sum(info.file_size for info in members)
    if total > max_bytes or total > MAX_RATIO * max(packed_bytes, 1) + 2**20:
        raise ModelError(f"The archive would unpack to {total / 1e6:.0f} MB from {packed_bytes / 1e6:.1f} MB, far "
                         "more than a model bundle: refused as a zip bomb; nothing was unpacked.")
    return members


def bundle_root(names: list[str]) -> PurePosixPath:
    """The folder of the zip that holds configs/ (the bundle); ModelError if none or several do."""
    roots = {PurePosixPath(*PurePosixPath(n).parts[:i]) for n in names
             for i, part in enumerate(PurePosixPath(n).parts[:-1]) if part == "configs"}
    top = min((len(r.parts) for r in roots), default=None)
    shallowest = sorted(str(r) for r in roots if len(r.parts) == top)
    if not shallowest:
        raise ModelError("The archive holds no configs/ folder, so it is not a MONAI bundle: check the registry URL.")
    if len(shallowest) > 1:
        raise ModelError(f"The archive holds several bundles ({', '.join(shallowest)}): expected one.")
    return PurePosixPath(shallowest[0])


def unpack_bundle(archive_path: Path, dest: Path, progress: Callable[[int, int], None] | None = None,
                  max_bytes: int = MAX_BYTES) -> Path:
    """Unpack the bundle in a zip into the new folder `dest` (atomic rename from a hidden temporary folder).

    Args:
        progress: progress(bytes unpacked, total bytes) after each file; it may raise Cancelled, which leaves
            nothing behind.
        max_bytes: the largest unpacked total accepted.
    """
    try:
        archive = zipfile.ZipFile(archive_path)
    except (zipfile.BadZipFile, OSError) as e:
        raise ModelError(f"The downloaded bundle is not a readable zip archive ({e}).") from None
    with archive:
        members = check_archive(archive, archive_path.stat().st_size, max_bytes)
        root = bundle_root([m.filename for m in members])
        total = sum(m.file_size for m in members)
        check_disk_space(dest.parent, total, "the unpacked bundle", SPACE_HINT)
        staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.unpack-", dir=dest.parent))
        try:
            done = 0
            for info in members:
                done += _write(archive, info, staging)
                if progress is not None:
                    progress(done, total)
            os.replace(staging / root if str(root) != "." else staging, dest)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as e:
            raise ModelError(f"The bundle archive is damaged ({e}): it was not unpacked.") from None
        except (FileExistsError, NotADirectoryError) as e:
            raise ModelError(f"The bundle archive holds {Path(e.filename).name!r} twice (as a file and a folder, or "
                             "two files): it was refused and not unpacked.") from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return dest


def _write(archive: zipfile.ZipFile, info: zipfile.ZipInfo, staging: Path) -> int:
    """Write one checked member under `staging` (new files only, never following a link); its bytes."""
    target = staging.joinpath(*PurePosixPath(info.filename).parts)
    if info.is_dir():
        target.mkdir(parents=True, exist_ok=True)
        return 0
    target.parent.mkdir(parents=True, exist_ok=True)
    # zipfile stops at the declared size and checks the CRC, so the checked total bounds what is written
    with archive.open(info) as source, open(target, "xb") as out:
        shutil.copyfileobj(source, out, CHUNK)
    return info.file_size
