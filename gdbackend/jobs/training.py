"""What every training job shares: its cases (a data folder or one image/label pair of the scene), live progress
for the panel's loss chart, and the cancel check that leaves no model behind. The engine's settings come from
`gdbackend.train.options.training_config`."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..errors import Cancelled, InputError
from ..segment import Case, load_cases, split
from ..train import Event
from ..train.options import DEFAULTS
from ..volume import Volume


def training_cases(inputs: dict[str, Path], options: dict,
                   labels: list[dict] | None = None) -> tuple[list[Case], list[Case]]:
    """(train, validation) from a folder or CSV of cases (option "data") or one image/label pair (inputs
    "image", "label"); a fifth of several cases validates unless option "val_fraction" says otherwise. Slicer
    segmentations among the cases' labels take the values `labels` gives their segments' names."""
    if options.get("data"):
        cases = load_cases(options["data"], labels)
    elif "image" in inputs and "label" in inputs:
        cases = [Case("scene", Volume.read(inputs["image"]), Volume.read(inputs["label"]))]
    else:
        raise InputError("Give a data folder, or an image and its label map, to train on.")
    return split(cases, float(options.get("val_fraction", 0.2 if len(cases) > 1 else 0)),
                 options.get("seed", DEFAULTS["seed"]))


def progress_events(context) -> Callable[[Event], None]:
    def on_event(e: Event) -> None:
        if e.kind in ("step", "epoch", "validation"):
            context.progress(e.step / max(e.steps, 1), loss=e.loss, epoch=e.epoch, epochs=e.epochs, step=e.step,
                             **{f"val_{k}": v for k, v in e.metrics.items()})
    return on_event


def raise_if_cancelled(context) -> None:
    if context.cancelled():
        raise Cancelled("Training cancelled: no model was written.")
