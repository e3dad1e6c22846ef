"""Model downloads as jobs, so that a panel fetches a registry model (a GDImaging file, or a MONAI bundle
downloaded and unpacked) in a background process with progress and cancel (the Slicer main thread never
waits on the network)."""
from __future__ import annotations

from pathlib import Path

from ..errors import Cancelled


def fetch(inputs: dict[str, Path], options: dict, outputs: dict[str, Path], context) -> dict:
    """The registry model `name` into the model cache (downloaded and checked unless it is there already).
    A cancel stops between chunks: the bytes received are kept (hidden) and the next fetch resumes from them;
    the cache never holds a partial model or bundle."""
    from ..models import fetch as fetch_model
    from ..models import find
    from ..models.registry import BUNDLE
    entry = find(options["name"], options.get("registry"))
    share = 0.95 if entry.kind == BUNDLE else 1.0  # of the bar for the download; a bundle's unpacking the rest

    def stop_if_cancelled() -> None:
        if context.cancelled():
            raise Cancelled(f"Download of {entry.name} cancelled: the next download resumes where it stopped.")

    def downloading(done: int, total: int | None) -> None:
        stop_if_cancelled()
        size = total or entry.size
        of = f" of {size / 1e6:.1f}" if size else ""
        context.progress(share * done / size if size else 0.0, message=f"{done / 1e6:.1f}{of} MB")

    def unpacking(done: int, total: int | None) -> None:
        stop_if_cancelled()
        context.progress(share + (1 - share) * done / max(total or 1, 1), message="unpacking")

    path = fetch_model(entry, progress=downloading, unpack_progress=unpacking)
    return {"model": str(path), "name": entry.name, "task": entry.task, "kind": entry.kind}
