"""Segmentation as jobs: train a U-Net on image/label files, predict (and evaluate) with a model file."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import Cancelled, InputError
from ..segment import evaluate, labels_from_files, load_model, parse_labels, train_segmentation
from ..segment import predict as predict_labels
from ..train.options import training_config
from ..volume import Volume
from . import CHANNEL_INPUTS
from .training import progress_events, raise_if_cancelled, training_cases


def train(inputs: dict[str, Path], options: dict, outputs: dict[str, Path], context) -> dict:
    """A model from a folder of cases (option "data") or one image/label pair (inputs "image", "label")."""
    labels = options.get("labels")
    labels = parse_labels(labels) if isinstance(labels, str) else labels
    if not labels and options.get("data"):     # the panel's folder training: named segments, else one foreground
        labels = labels_from_files(options["data"], [{"value": 1, "name": "foreground"}])
    if not labels:
        raise InputError('Give the labels to learn, e.g. "1:brain" or [{"value": 1, "name": "brain", ...}].')
    train_cases, val_cases = training_cases(inputs, options, labels)
    config = training_config(options, "segment", "dice" if val_cases else None)
    extra = {k: (tuple(options[k]) if k in ("patch", "spacing") else options[k])
             for k in ("network", "patch", "spacing", "normalisation", "loss", "samples_per_case", "augment")
             if options.get(k) is not None}
    result, card = train_segmentation(train_cases, val_cases, labels, config, outputs["model"],
                                      on_event=progress_events(context), cancel=context.cancelled, **extra)
    raise_if_cancelled(context)
    return {"labels": card["labels"], "epochs": len(result.history), "final_loss": result.history[-1]["loss"],
            "best": result.best, "train_cases": len(train_cases), "val_cases": len(val_cases)}


def predict(inputs: dict[str, Path], options: dict, outputs: dict[str, Path], context) -> dict:
    """Label map of an image ("image", and "image_2", "image_3", ... for a model of several input channels, in its
    channel order) with a model file; with a "reference" label map, Dice/IoU/HD95 too."""
    files = channel_files(inputs)
    images = [Volume.read(f) for f in files]   # every channel read (and refused) before the model loads
    model, card = load_model(inputs["model"], options.get("device", "auto"))
    context.progress(0.1, message="model loaded")
    label = predict_labels(model, card, images, bool(options.get("flips", False)),
                           bool(options.get("largest_component", False)), options.get("overlap"),
                           report=context.message, files=files)
    if context.cancelled():
        raise Cancelled("Segmentation cancelled: nothing was written.")
    context.progress(0.9, message="segmented")
    label.write(outputs["labels"])
    summary = {"labels": card["labels"]}
    if "reference" in inputs:
        reference = _renumbered(Volume.read(inputs["reference"]), options.get("reference_labels"), card["labels"])
        summary["metrics"] = evaluate(label, reference, card["labels"])
    return summary


def channel_files(inputs: dict[str, Path]) -> list[Path]:
    """The input channels' files in order; the model checks their number and grids (inference.check_channels)."""
    given = [key for key in CHANNEL_INPUTS if key in inputs]
    if given != list(CHANNEL_INPUTS[:len(given)]):
        raise InputError(f"Input channels {', '.join(given)} were given without those before them: give "
                         f"image, {', '.join(CHANNEL_INPUTS[:len(given)])} in the model's channel order.")
    return [inputs["image"], *(inputs[key] for key in given)]


def _renumbered(reference: Volume, reference_labels: list[dict] | None, labels: list[dict]) -> Volume:
    """The reference label map with the model's label values, matching labels by name (when names are given)."""
    if not reference_labels:
        return reference
    by_name = {lb["name"].lower(): lb["value"] for lb in reference_labels}
    missing = [lb["name"] for lb in labels if lb["name"].lower() not in by_name]
    if missing:
        raise InputError(f"The reference has no segment named {', '.join(missing)}: name the reference segments "
                         f"as the model's labels ({', '.join(lb['name'] for lb in labels)}).")
    array = reference.array.astype(np.int32)
    out = np.zeros_like(array)
    for lb in labels:
        out[array == by_name[lb["name"].lower()]] = lb["value"]
    return reference.with_array(out)
