"""Classification as a job: class probabilities of an image (or a box of it) with a model file."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ..classify import load_classifier, predict_probabilities
from ..classify.data import Sample
from ..classify.predict import prepare_inputs
from ..volume import Volume


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
