"""What a `--model` argument (or a loader's `path`) names: a file or bundle folder that exists, else a registry
model, shipped or already fetched. The one place that turns a registry name into a path, for every task.

Nothing is downloaded here: a model that is not in the cache yet is refused with the command that fetches
it, so that a prediction never starts a download of hundreds of megabytes unasked.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import InputError, ModelError
from ..resources import format_bytes
from .cache import cached_path
from .registry import BUNDLE, BUNDLE_TASKS, NAME, read_registry


def resolve_model(model: str | Path, task: str, registry: str | Path | None = None) -> Path:
    """The model file or MONAI bundle folder `model` names, for a `task` (segment, classify, detect).

    Args:
        model: a path; a path that exists always wins over a registry name.
        registry: a models.json file (default: $GDIMAGING_MODELS, else the extension's).
    """
    path = Path(model)
    if path.exists() or not NAME.match(str(model)):
        return path
    try:
        entry = next((e for e in read_registry(registry) if e.name == str(model)), None)
    except InputError:
        entry = None  # an unreadable registry: the loader says the file is not there
    if entry is None:
        return path
    if entry.task != task:
        raise ModelError(f"{entry.name} is a {entry.task} model, not a {task} model: use it with gd {entry.task}.")
    if entry.kind == BUNDLE and task not in BUNDLE_TASKS:
        raise ModelError(f"{entry.name} is a MONAI bundle for {task}; GDImaging runs bundles for "
                         f"{', '.join(BUNDLE_TASKS)} only. Use a GDImaging {task} model.")
    found = cached_path(entry)
    if found is None:
        size = format_bytes(entry.size) if entry.size else "size unknown"
        raise InputError(f"{entry.name} is a registry model that is not downloaded yet: run gd models fetch "
                         f"{entry.name} ({size}), then try again.")
    return found
