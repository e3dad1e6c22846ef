"""Classification as jobs: train a classifier on labelled images; class probabilities of an image (or a box
of it) with a model file."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ..classify import load_classifier, predict_probabilities, train_classifier
from ..classify.data import Sample, read_samples, split_samples
from ..classify.predict import prepare_inputs
from ..errors import InputError
from ..train.options import DEFAULTS, training_config
from ..volume import Volume
from .training import progress_events, raise_if_cancelled


def predict(inputs: dict[str, Path], options: dict, outputs: dict[str, Path], context) -> dict:
    """Writes a CSV class,probability; option "box" = [x0, y0, (z0,) x1, y1, (z1)] in LPS mm."""
    model, card = load_classifier(inputs["model"], options.get("device", "auto"))
    box = options.get("box")
    sample = Sample(Volume.read(inputs["image"]), box=None if box is None else np.asarray(box, float))
    context.progress(0.3, message="model loaded")
    probabilities = predict_probabilities(model, prepare_inputs([sample], card))[0]
    rows = [{"class": str(c), "probability": float(p)} for c, p in zip(card["classes"], probabilities)]
    with open(outputs["probabilities"], "w", newline="") as f:
        writer = csv.DictWriter(f, ["class", "probability"])
        writer.writeheader()
        writer.writerows(rows)
    return {"probabilities": rows, "predicted": max(rows, key=lambda r: r["probability"])["class"]}


def train(inputs: dict[str, Path], options: dict, outputs: dict[str, Path], context) -> dict:
    """A classifier from option "data": a CSV path,label[,box][,mask] or a folder with one sub-folder of images
    per class; a stratified fifth validates (option "val_fraction") and the best ROC AUC is kept."""
    if not options.get("data"):
        raise InputError("Give the training data: a CSV with columns path,label, or a folder with one sub-folder "
                         "of images per class.")
    train_samples, val_samples = split_samples(read_samples(options["data"]), float(options.get("val_fraction", 0.2)),
                                               options.get("seed", DEFAULTS["seed"]))
    extra = {k: (tuple(options[k]) if k in ("size", "spacing") else options[k])
             for k in ("network", "classes", "size", "spacing", "normalisation", "margin", "balance",
                       "label_smoothing", "augment") if options.get(k) is not None}
    config = training_config(options, "classify", "auc" if val_samples else None)
    result, card = train_classifier(train_samples, val_samples, config, outputs["model"],
                                    on_event=progress_events(context), cancel=context.cancelled, **extra)
    raise_if_cancelled(context)
    return {"classes": card["classes"], "epochs": len(result.history), "final_loss": result.history[-1]["loss"],
            "best": result.best, "train_samples": len(train_samples), "val_samples": len(val_samples)}
