"""Model downloads as jobs, so that a panel fetches a registry model in a background process with progress
and cancel (the Slicer main thread never waits on the network)."""
from __future__ import annotations

from pathlib import Path

from ..errors import Cancelled


def fetch(inputs: dict[str, Path], options: dict, outputs: dict[str, Path], context) -> dict:
    """The registry model `name` into the model cache (downloaded and checked unless it is there already).
    A cancel stops between chunks; the bytes received are kept and the next fetch resumes from them."""
    from ..models import fetch as fetch_model
    from ..models import find
    entry = find(options["name"], options.get("registry"))

    def progress(done: int, total: int | None) -> None:
        if context.cancelled():
            raise Cancelled(f"Download of {entry.name} cancelled: the next download resumes where it stopped.")
        size = total or entry.size
        context.progress(done / size if size else 0.0, message=f"{done / 1e6:.1f} of {size / 1e6:.1f} MB")

    path = fetch_model(entry, progress=progress)
    return {"model": str(path), "name": entry.name, "task": entry.task}
