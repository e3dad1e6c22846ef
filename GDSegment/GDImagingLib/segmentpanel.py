"""What the GD Segment panel decides from its parameters alone, kept apart from the widget (plain values in,
plain values out): whether each section can start and, if not, what the user should do about it."""
from __future__ import annotations

import json
from pathlib import Path

from slicer.i18n import tr as _

from .segmentlogic import TRAIN_TASKS

PREDICTIONS = ("segment", "classify", "detect")  # the sections that apply a model, each to one or all volumes
PANEL_CHANNELS = 4   # the Segment section's volume selectors: the input volume, then segmentChannel2 ... 4


def given(path) -> Path | None:
    """A path field of the parameter node, or None when it is empty."""
    return Path(path) if path is not None and str(path) not in ("", ".") else None


def modelChannels(choice, path: Path | None) -> tuple[str, ...]:
    """The names of the input channels of the Segment model: its registry entry's (`choice`, a ModelChoice), else
    a MONAI bundle folder's (configs/metadata.json: the image input's channel_def, or num_channels); () when the
    model names none, as a GDImaging .pt file (one channel: the model checks the count when it runs)."""
    if choice is not None and choice.channels:
        return tuple(choice.channels)
    if path is None or not (path / "configs" / "metadata.json").is_file():
        return ()
    try:
        meta = json.loads((path / "configs" / "metadata.json").read_text(encoding="utf-8"))
        image = meta["network_data_format"]["inputs"]["image"]
        count = int(image.get("num_channels", 1))
    except (OSError, ValueError, KeyError, TypeError):
        return ()   # the bundle's own loader says what is wrong when it runs
    names = image.get("channel_def") if isinstance(image.get("channel_def"), dict) else {}
    return tuple(str(names.get(str(c), f"channel {c + 1}")) for c in range(count)) if count > 1 else ()


def channelReason(p, channels: tuple[str, ...]) -> str:
    """Why a model of several input channels cannot segment yet ("" when each channel has a volume)."""
    if len(channels) < 2:
        return ""
    if len(channels) > PANEL_CHANNELS:
        return _("This model takes {n} channels; the panel takes up to {most}: run gd segment predict with one file "
                 "per channel.").format(n=len(channels), most=PANEL_CHANNELS)
    if p.segmentAllVolumes or given(getattr(p, "segmentFolder", None)):
        return _("This model takes {n} channels ({names}): segment one case at a time (untick All volumes, clear "
                 "the folder).").format(n=len(channels), names=", ".join(channels))
    volumes = [p.segmentVolume, *(getattr(p, f"segmentChannel{k}") for k in range(2, len(channels) + 1))]
    missing = [name for name, volume in zip(channels, volumes) if volume is None]
    return _("Select a volume for each channel: {missing}.").format(missing=", ".join(missing)) if missing else ""


def reasons(p, pendingDownloads: dict[str, str | None], channels: tuple[str, ...] = ()) -> dict[str, str]:
    """Why each section cannot start now ("" when it can), in the words of what to do about it.
    `pendingDownloads`: section -> the name of its chosen registry model when it is not downloaded yet;
    `channels`: the Segment model's input channels (modelChannels)."""
    if p is None:
        return dict.fromkeys((*PREDICTIONS, "train"), _("Open a scene."))
    out = {}
    for name in PREDICTIONS:
        folder, allVolumes = given(getattr(p, f"{name}Folder", None)), getattr(p, f"{name}AllVolumes")
        if folder is not None and allVolumes:
            out[name] = _("Apply to all volumes of the scene or to a folder, not both: untick one or clear the other.")
        elif folder is not None and not folder.is_dir():
            out[name] = _("The input folder {folder} does not exist: choose a folder of images.").format(folder=folder)
        elif folder is None and not allVolumes and not getattr(p, f"{name}Volume"):
            out[name] = _("Select an input volume.")
        elif not given(getattr(p, f"{name}Model")):
            pending = pendingDownloads.get(name)
            out[name] = _("Download {name} first (Download button).").format(name=pending) if pending else _(
                "Choose a model, import one or train one.")
        else:
            out[name] = channelReason(p, channels) if name == "segment" else ""
    task = TRAIN_TASKS[p.trainTask]
    if not given(p.trainOutput):
        out["train"] = _("Choose where to save the model (Save model as).")
    elif not given(p.trainFolder) and not (p.trainVolume and p.trainSegmentation and task != "classify"):
        out["train"] = _("Choose a folder with one sub-folder of images per class.") if task == "classify" else _(
            "Select a training volume and segmentation, or a folder of files.")
    else:
        out["train"] = ""
    return out
