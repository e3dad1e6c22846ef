"""What the GD Segment panel decides from its parameters alone, kept apart from the widget (plain values in,
plain values out): whether each section can start and, if not, what the user should do about it."""
from __future__ import annotations

from pathlib import Path

from slicer.i18n import tr as _

from .segmentlogic import TRAIN_TASKS

PREDICTIONS = ("segment", "classify", "detect")  # the sections that apply a model, each to one or all volumes


def given(path) -> Path | None:
    """A path field of the parameter node, or None when it is empty."""
    return Path(path) if path is not None and str(path) not in ("", ".") else None


def reasons(p, pendingDownloads: dict[str, str | None]) -> dict[str, str]:
    """Why each section cannot start now ("" when it can), in the words of what to do about it.
    `pendingDownloads`: section -> the name of its chosen registry model when it is not downloaded yet."""
    if p is None:
        return dict.fromkeys((*PREDICTIONS, "train"), _("Open a scene."))
    out = {}
    for name in PREDICTIONS:
        if not getattr(p, f"{name}AllVolumes") and not getattr(p, f"{name}Volume"):
            out[name] = _("Select an input volume.")
        elif not given(getattr(p, f"{name}Model")):
            pending = pendingDownloads.get(name)
            out[name] = _("Download {name} first (Download button).").format(name=pending) if pending else _(
                "Choose a model, import one or train one.")
        else:
            out[name] = ""
    task = TRAIN_TASKS[p.trainTask]
    if not given(p.trainOutput):
        out["train"] = _("Choose where to save the model (Save model as).")
    elif not given(p.trainFolder) and not (p.trainVolume and p.trainSegmentation and task != "classify"):
        out["train"] = _("Choose a folder with one sub-folder of images per class.") if task == "classify" else _(
            "Select a training volume and segmentation, or a folder of files.")
    else:
        out["train"] = ""
    return out
