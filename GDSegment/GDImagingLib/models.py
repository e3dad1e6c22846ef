"""Model files from the panels: a local file is checked (loaded as data, weights only, and a model of the
panel's task) before it is copied into the model cache, so a bad file is refused at import, not at Apply."""
from __future__ import annotations

from pathlib import Path

MODEL_FILTER = "GDImaging model (*.pt)"


def importModelFile(path: str | Path, task: str) -> Path:
    """The cached copy of a checked model file; ModelError/InputError say what is wrong with a bad one."""
    from gdbackend.models import import_model  # torch: only once the panel has checked it is installed
    return import_model(Path(path), task=task)
