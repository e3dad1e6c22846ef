"""The real brain-extraction problem: train on Colin27 (mricron-data: ch2 head, ch2bet > 0 as brain),
test on another person (ITK's KmeansTest_T1UCharRaw, KmeansTest_T1RawSkullStrip > 0 as brain)."""
from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Callable

import numpy as np

from ..sample_data import itk_example, mricron
from ..train.options import training_config
from ..volume import Volume
from .data import Case
from .inference import load_model, predict
from .labels import parse_labels
from .metrics import evaluate, write_csv
from .train import train_segmentation

LABELS = "1:brain"
SPACING, PATCH = 2.0, 64   # mm, voxels: the whole 2 mm head fits in a few patches, so a short run learns


def _case(name: str, image: Path, mask: Path) -> Case:
    image_v = Volume.read(image)
    return Case(name, image_v, image_v.with_array((Volume.read(mask).array > 0).astype(np.uint8)))


def colin27() -> Case:
    return _case("colin27", mricron("ch2.nii.gz"), mricron("ch2bet.nii.gz"))


def itk_t1() -> Case:
    return _case("itk_t1", itk_example("KmeansTest_T1UCharRaw.nii.gz"),
                 itk_example("KmeansTest_T1RawSkullStrip.nii.gz"))


def commands(folder: Path, epochs: int, samples_per_case: int, schedule: str) -> list[str]:
    """The `gd` commands a user would type for the same run (train on folder/train, evaluate on folder/test):
    shown in the report so that the figures can be reproduced from the command line."""
    model = folder / "brain.pt"
    return ["gd " + shlex.join(map(str, argv)) for argv in (
        ["segment", "train", "--data", folder / "train", "--labels", LABELS, "--out", model, "--spacing", SPACING,
         "--patch", PATCH, "--epochs", epochs, "--samples-per-case", samples_per_case, "--schedule", schedule,
         "--val-fraction", 0],
        ["segment", "evaluate", "--model", model, "--data", folder / "test", "--csv", folder / "scores.csv",
         "--largest-component"])]


def brain_extraction(folder: Path, epochs: int, samples_per_case: int = 8, schedule: str = "cosine",
                     on_event: Callable | None = None) -> dict:
    """Train on Colin27 and evaluate on the ITK T1 through the library, as `commands()` would.

    Args:
        folder: where brain.pt, brain.last.pt and scores.csv are written.
        epochs: training epochs; samples_per_case: random 64^3 patches per epoch.
        schedule: learning-rate schedule ("constant", "cosine", "step").
        on_event: the training engine's progress callback.

    Returns:
        {"commands", "train": {epochs, seconds, final_loss}, "test": metrics, "model": path,
        "history": per-epoch records, "prediction": the test case's label map}.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model_path = folder / "brain.pt"
    config = training_config({"epochs": epochs, "schedule": schedule}, "segment", None)
    result, _ = train_segmentation([colin27()], [], parse_labels(LABELS), config, model_path, spacing=(SPACING,),
                                   patch=(PATCH,), samples_per_case=samples_per_case, on_event=on_event)
    model, card = load_model(model_path)
    test = itk_t1()
    prediction = predict(model, card, test.image, largest_component=True)
    scores = evaluate(prediction, test.label, card["labels"])
    write_csv([{"case": test.name, **scores}, {"case": "mean", **scores}], folder / "scores.csv")
    train = {"epochs": len(result.history), "seconds": round(result.seconds, 1),
             "final_loss": result.history[-1]["loss"]}
    return {"commands": commands(Path(os.path.relpath(folder)), epochs, samples_per_case, schedule), "train": train,
            "test": scores, "model": model_path, "history": result.history, "prediction": prediction}
