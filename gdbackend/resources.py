"""Memory, disk space and output folders, checked before the work starts: a run that cannot finish
should say so at once, with the numbers, instead of failing hours later with a raw OSError or MemoryError."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from .errors import ResourceError

MODEL_BYTES = 64 * 2**20  # room kept for a model file (best + last checkpoint of the networks we train)


def format_bytes(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def check_writable(folder: str | Path, what: str = "output") -> Path:
    """`folder` if it is an existing folder this process may create files in."""
    folder = Path(folder) if str(folder) else Path(".")
    if not folder.exists():
        raise ResourceError(f"The {what} folder {folder} does not exist: create it or choose another output path.")
    if not folder.is_dir():
        raise ResourceError(f"The {what} folder {folder} is a file, not a folder: choose another output path.")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ResourceError(f"The {what} folder {folder} is not writable: choose another output path, "
                            "or change the folder's permissions.")
    return folder


def check_disk_space(folder: str | Path, needed: int, what: str = "the output",
                     hint: str = "free some space or choose another output folder") -> None:
    free = shutil.disk_usage(folder).free
    if needed > free:
        raise ResourceError(f"Not enough disk space in {folder}: {what} needs about {format_bytes(needed)}, "
                            f"{format_bytes(free)} are free. {hint[0].upper() + hint[1:]}.")


def check_output(path: str | Path, needed: int = 0, what: str = "output") -> Path:
    """The folder of output file `path`, checked to be writable with `needed` bytes free."""
    folder = check_writable(Path(path).parent, what)
    check_disk_space(folder, needed, f"the {what} {Path(path).name}")
    return folder


def physical_memory() -> int | None:
    """Bytes of RAM in this machine, or None where the OS does not tell."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def check_memory(needed: float, what: str) -> None:
    """Refuse work whose arrays alone would not fit in this machine's memory."""
    total = physical_memory()
    if total is not None and needed > total:
        raise ResourceError(f"{what[0].upper() + what[1:]} needs about {format_bytes(needed)} of memory, more than "
                            f"this machine's {format_bytes(total)}: crop or downsample the image first.")


def make_output_folder(folder: str | Path, needed: int = 0, what: str = "output") -> Path:
    """Create `folder` (with its parents) and check it is writable with `needed` bytes free."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ResourceError(f"Cannot create the {what} folder {folder} ({e.strerror}): choose another "
                            "output path.") from None
    check_writable(folder, what)
    check_disk_space(folder, needed, f"the {what}")
    return folder
