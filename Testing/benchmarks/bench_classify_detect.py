"""Full runs of classification and detection on real brains with inserted lesions (not in CI).

    .venv/bin/python Testing/benchmarks/bench_classify_detect.py [classify] [detect] [unet3d] [unet3d_fit]

`detect` trains Faster R-CNN on 2.5D slices, `unet3d` the 3D U-Net whose lesion regions are the detections;
both are tested on the same held-out brains. `unet3d_fit` asks how well the U-Net fits its own training
lesions (4 brains, no augmentation): the highest lesion probability inside each training lesion.

Targets (issue 4): ROC AUC >= 0.95 for lesion present / absent on 3D patches of held-out brains;
sensitivity >= 0.9 at 1 false positive per volume for lesions >= 5 mm. Prints one JSON line per task.
"""
from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from gdbackend.classify import classification_metrics, predict_probabilities  # noqa: E402
from gdbackend.classify.predict import prepare_inputs  # noqa: E402
from gdbackend.classify.sample import CLASSES, lesion_patches  # noqa: E402
from gdbackend.classify.train import train_classifier  # noqa: E402
from gdbackend.detect import (  # noqa: E402
    detect_by_segmentation,
    detect_volume,
    detection_metrics,
    train_detector,
    train_unet_detector,
)
from gdbackend.detect.data import DetectionCase  # noqa: E402
from gdbackend.detect.metrics import lesions_found, smaller_than  # noqa: E402
from gdbackend.detect.sample import lesion_volumes  # noqa: E402
from gdbackend.lesions import lesion_cases  # noqa: E402
from gdbackend.segment.inference import model_probabilities, to_model_space  # noqa: E402
from gdbackend.segment.preprocess import label_to_model  # noqa: E402
from gdbackend.train import TrainConfig  # noqa: E402
from gdbackend.volume import Volume  # noqa: E402

PROCESSES = 1     # processes making the lesion brains (bench_gpu_scale.py raises it)
WORKERS = None    # data-loader workers; None: the engine's choice (bench_gpu_scale.py raises it)
CLASSIFY = {"train_brains": 256, "test_brains": 32, "epochs": 20, "network": "resnet10", "size": (32, 32, 32),
            "lesions": (3, 6), "negatives": 4}
DETECT = {"train_brains": 24, "test_brains": 6, "epochs": 12, "architecture": "resnet18_fpn", "lesions": (3, 6),
          "spacing": (1.5, 1.5, 3.0), "size": 160, "crop": 96, "batch_size": 8, "min_size_mm": 5.0, "lr": 5e-4}
UNET3D = {"train_brains": 96, "test_brains": 36, "epochs": 60, "lesions": (3, 6), "spacing": (2.0, 2.0, 2.0),
          "patch_size": (32, 32, 32), "patches_per_volume": 16, "batch_size": 8, "min_size_mm": 5.0, "lr": 1e-3}
UNET3D_FIT = {"train_brains": 4, "epochs": 480, "lesions": (3, 6), "spacing": (2.0, 2.0, 2.0),
              "patch_size": (32, 32, 32), "patches_per_volume": 16, "batch_size": 8, "lr": 3e-3, "augment": False}


def progress(event) -> None:
    if event.kind == "epoch":
        print(f"  epoch {event.epoch}/{event.epochs} loss {event.loss:.4f} {event.elapsed_s:.0f} s", file=sys.stderr,
              flush=True)


def classify(out: Path) -> dict:
    start = time.perf_counter()
    data = {"count": CLASSIFY["lesions"], "negatives": CLASSIFY["negatives"]}
    train = lesion_patches(CLASSIFY["train_brains"], seed=1, processes=PROCESSES, **data)
    test, val = (lesion_patches(CLASSIFY["test_brains"], seed=2, processes=PROCESSES, **data),
                 lesion_patches(8, seed=3, **data))
    config = TrainConfig(epochs=CLASSIFY["epochs"], optimizer="adam", lr=1e-3, batch_size=16, schedule="cosine",
                         monitor="auc", mode="max", seed=0, num_workers=WORKERS)
    result, card = train_classifier(train, val, config, out / "classify.pt", network=CLASSIFY["network"],
                                    size=CLASSIFY["size"], on_event=progress)
    probs = predict_probabilities(result.model.eval(), prepare_inputs(test, card))
    metrics = classification_metrics(probs, np.array([CLASSES.index(s.label) for s in test]))
    return {"task": "classify", **CLASSIFY, "train_patches": len(train), "test_patches": len(test),
            "train_seconds": round(result.seconds, 1), "seconds": round(time.perf_counter() - start, 1),
            "losses": [round(h["loss"], 4) for h in result.history], **metrics}


def tested(detect: Callable[[Volume], tuple[np.ndarray, np.ndarray]], brains: int, min_size_mm: float) -> dict:
    """FROC and mAP on held-out brains (1-3 lesions each), for lesions >= min_size_mm and for all; and which
    kinds of lesion >= min_size_mm are found at 1 FP/volume ("found/counted")."""
    test = lesion_cases(brains, seed=2, processes=PROCESSES)
    predictions = [detect(c.image) for c in test]
    truths = [c.boxes for c in test]
    ignore = smaller_than(truths, min_size_mm)
    found = np.concatenate(lesions_found(predictions, truths, 1.0, ignore=ignore))
    counted = ~np.concatenate(ignore)
    contrast = np.array([les.contrast for c in test for les in c.lesions])
    diameter = np.array([les.diameter for c in test for les in c.lesions])
    kinds = {"hyper": contrast > 0, "hypo": contrast < 0, "contrast<25%": abs(contrast) < 0.25,
             "contrast>=25%": abs(contrast) >= 0.25, "5-10mm": diameter < 10, ">=10mm": diameter >= 10}
    return {"test_lesions": int(sum(len(t) for t in truths)),
            "lesions_ge_5mm": detection_metrics(predictions, truths, ignore=ignore),
            "all_lesions": detection_metrics(predictions, truths),
            "found_at_1fp": {k: f"{int((found & sel).sum())}/{int((counted & sel).sum())}" for k, sel in kinds.items()}}


def detect(out: Path) -> dict:
    start = time.perf_counter()
    train, val = lesion_volumes(DETECT["train_brains"], seed=1, count=DETECT["lesions"]), lesion_volumes(2, seed=3)
    config = TrainConfig(epochs=DETECT["epochs"], optimizer="adam", lr=DETECT["lr"], batch_size=DETECT["batch_size"],
                         grad_clip=10.0,
                         schedule="cosine", warmup_epochs=1, val_every=4, monitor="cpm", mode="max", seed=0)
    result, card = train_detector(train, val, config, out / "detect.pt", architecture=DETECT["architecture"],
                                  spacing=DETECT["spacing"], size=DETECT["size"], crop=DETECT["crop"],
                                  min_size_mm=DETECT["min_size_mm"], on_event=progress)
    model = result.model.eval()
    metrics = tested(lambda image: detect_volume(model, card, image), DETECT["test_brains"], DETECT["min_size_mm"])
    return {"task": "detect", **DETECT, "train_slices": card["data"]["train_slices"], "size": card["size"],
            "train_seconds": round(result.seconds, 1), "seconds": round(time.perf_counter() - start, 1),
            "losses": [round(h["loss"], 4) for h in result.history], **metrics}


def unet3d(out: Path) -> dict:
    start = time.perf_counter()
    train = lesion_volumes(UNET3D["train_brains"], seed=1, count=UNET3D["lesions"], processes=PROCESSES)
    config = TrainConfig(epochs=UNET3D["epochs"], optimizer="adam", lr=UNET3D["lr"], batch_size=UNET3D["batch_size"],
                         schedule="cosine", seed=0, num_workers=WORKERS)
    result, card = train_unet_detector(train, [], config, out / "unet3d.pt", spacing=UNET3D["spacing"],
                                       patch_size=UNET3D["patch_size"],
                                       patches_per_volume=UNET3D["patches_per_volume"], on_event=progress)
    model = result.model.eval()
    metrics = tested(lambda image: detect_volume(model, card, image), UNET3D["test_brains"], UNET3D["min_size_mm"])
    flips = tested(lambda image: detect_by_segmentation(model, card, image, flips=True), UNET3D["test_brains"],
                   UNET3D["min_size_mm"])["lesions_ge_5mm"]
    return {"task": "unet3d", **UNET3D, "train_seconds": round(result.seconds, 1),
            "seconds": round(time.perf_counter() - start, 1), "losses": [round(h["loss"], 4) for h in result.history],
            **metrics, "lesions_ge_5mm_with_flips": flips}


def unet3d_fit(out: Path) -> dict:
    """Which training lesions the U-Net has learnt (probability > 0.5 inside them), by size."""
    cases = lesion_cases(UNET3D_FIT["train_brains"], seed=1, count=UNET3D_FIT["lesions"])
    config = TrainConfig(epochs=UNET3D_FIT["epochs"], optimizer="adam", lr=UNET3D_FIT["lr"],
                         batch_size=UNET3D_FIT["batch_size"], schedule="cosine", seed=0)
    result, card = train_unet_detector([DetectionCase(c.name, c.image, c.label) for c in cases], [], config,
                                       out / "unet3d_fit.pt", spacing=UNET3D_FIT["spacing"],
                                       patch_size=UNET3D_FIT["patch_size"],
                                       patches_per_volume=UNET3D_FIT["patches_per_volume"],
                                       augment=UNET3D_FIT["augment"], on_event=progress)
    model, lesions = result.model.eval(), []
    for c in cases:
        x, grid = to_model_space([c.image], card)
        probability = model_probabilities(model, card, x, next(model.parameters()).device)[1]
        label = label_to_model(c.label, grid).array
        lesions += [{"diameter_mm": round(les.diameter, 1), "contrast": round(les.contrast, 2),
                     "max_probability": round(float(probability[label == n].max(initial=0.0)), 2)}
                    for n, les in enumerate(c.lesions, start=1)]
    fitted = np.array([les["max_probability"] > 0.5 for les in lesions])
    small = np.array([les["diameter_mm"] < 10 for les in lesions])
    return {"task": "unet3d_fit", **UNET3D_FIT, "train_seconds": round(result.seconds, 1),
            "losses": [round(h["loss"], 4) for h in result.history[::40]], "training_lesions": lesions,
            "fitted": {"< 10 mm": f"{(fitted & small).sum()}/{small.sum()}",
                       ">= 10 mm": f"{(fitted & ~small).sum()}/{(~small).sum()}"}}


if __name__ == "__main__":
    torch.set_num_threads(2)
    tasks = sys.argv[1:] or ["classify", "detect", "unet3d"]
    with tempfile.TemporaryDirectory() as tmp:
        for task in tasks:
            run = {"classify": classify, "detect": detect, "unet3d": unet3d, "unet3d_fit": unet3d_fit}[task]
            result = run(Path(tmp))
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20   # KiB on Linux
            print(json.dumps({**result, "peak_memory_gb_so_far": round(peak, 1)}), flush=True)
