"""Architectures side by side on the same data (issue 7), short runs sized for a 2-core CPU (not in CI).

    .venv/bin/python Testing/benchmarks/bench_architectures.py [classify] [detect]

Classification: lesion present / absent on the patches of gdbackend.classify.sample.lesion_patches, 3D
(ResNet-10 vs DenseNet-121) and their axial planes in 2D (ResNet-10 vs VGG-11/16-BN vs DenseNet-121), tested on
other brains: ROC AUC. Detection: gdbackend.detect.sample.lesion_volumes, Faster R-CNN vs RetinaNet vs FCOS on
2.5D ResNet-18-FPN slices and MONAI's 3D RetinaNet on whole volumes, tested on other brains: FROC sensitivity at
1 FP/volume, CPM and mAP. Every network gets the same data, optimiser, epochs and seed; no validation during
training, so seconds per epoch are training only. Prints one JSON line per network.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from gdbackend.classify import classification_metrics, predict_probabilities  # noqa: E402
from gdbackend.classify.planar import planar_samples  # noqa: E402
from gdbackend.classify.predict import prepare_inputs  # noqa: E402
from gdbackend.classify.sample import CLASSES, lesion_patches  # noqa: E402
from gdbackend.classify.train import train_classifier  # noqa: E402
from gdbackend.detect import detect_volume, detection_metrics, train_detector, train_retina3d, truth_boxes  # noqa: E402
from gdbackend.detect.metrics import smaller_than  # noqa: E402
from gdbackend.detect.sample import lesion_volumes  # noqa: E402
from gdbackend.train import TrainConfig  # noqa: E402

CLASSIFY = {"train_brains": 48, "test_brains": 16, "epochs": 8, "batch_size": 16, "lr": 1e-3,
            "runs": [("resnet10", 3), ("densenet121", 3), ("resnet10", 2), ("vgg11_bn", 2), ("vgg16_bn", 2),
                     ("densenet121", 2)]}
DETECT = {"train_brains": 8, "test_brains": 4, "epochs": 8, "batch_size": 4, "lr": 5e-4, "min_size_mm": 5.0,
          "slices": {"spacing": (1.5, 1.5, 3.0), "size": 160},
          "volume": {"spacing": (2.0, 2.0, 2.0), "patch_size": (48, 48, 48), "patches_per_volume": 8},
          "runs": ["resnet18_fpn", "retinanet_resnet18_fpn", "fcos_resnet18_fpn", "retinanet3d"]}


def progress(event) -> None:
    if event.kind == "epoch":
        print(f"  epoch {event.epoch}/{event.epochs} loss {event.loss:.4f} {event.elapsed_s:.0f} s", file=sys.stderr,
              flush=True)


def classify() -> list[dict]:
    train3d, test3d = lesion_patches(CLASSIFY["train_brains"], seed=1), lesion_patches(CLASSIFY["test_brains"], seed=2)
    data = {3: (train3d, test3d), 2: (planar_samples(train3d), planar_samples(test3d))}
    config = TrainConfig(epochs=CLASSIFY["epochs"], optimizer="adam", lr=CLASSIFY["lr"],
                         batch_size=CLASSIFY["batch_size"], schedule="cosine", seed=0)
    rows = []
    for network, dims in CLASSIFY["runs"]:
        train, test = data[dims]
        result, card = train_classifier(train, [], config, network=network, size=(32,) * dims,
                                        on_event=progress)
        start = time.perf_counter()
        probs = predict_probabilities(result.model.eval(), prepare_inputs(test, card))
        metrics = classification_metrics(probs, np.array([CLASSES.index(s.label) for s in test]))
        rows.append({"task": "classify", "network": network, "dims": dims, "auc": round(metrics["auc"], 3),
                     "balanced_accuracy": round(metrics["balanced_accuracy"], 3),
                     "seconds_per_epoch": round(result.seconds / config.epochs, 2),
                     "test_seconds": round(time.perf_counter() - start, 1),
                     "parameters_m": round(sum(p.numel() for p in result.model.parameters()) / 1e6, 2),
                     "train_samples": len(train), "test_samples": len(test),
                     "losses": [round(h["loss"], 3) for h in result.history]})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def detect() -> list[dict]:
    train, test = lesion_volumes(DETECT["train_brains"], seed=1), lesion_volumes(DETECT["test_brains"], seed=2)
    truths = [truth_boxes(c) for c in test]
    ignore = smaller_than(truths, DETECT["min_size_mm"])
    config = TrainConfig(epochs=DETECT["epochs"], optimizer="adam", lr=DETECT["lr"], batch_size=DETECT["batch_size"],
                         grad_clip=10.0, schedule="cosine", warmup_epochs=1, seed=0)
    rows = []
    for architecture in DETECT["runs"]:
        if architecture == "retinanet3d":
            result, card = train_retina3d(train, [], config, on_event=progress, **DETECT["volume"])
        else:
            result, card = train_detector(train, [], config, architecture=architecture, on_event=progress,
                                          **DETECT["slices"])
        start = time.perf_counter()
        predictions = [detect_volume(result.model.eval(), card, c.image) for c in test]
        seconds = time.perf_counter() - start
        big = detection_metrics(predictions, truths, ignore=ignore)
        every = detection_metrics(predictions, truths)
        rows.append({"task": "detect", "architecture": architecture,
                     "sensitivity@1": round(big["sensitivity@1"], 3), "cpm": round(big["cpm"], 3),
                     "map50": round(big["map50"], 3), "all_sizes_cpm": round(every["cpm"], 3),
                     "seconds_per_epoch": round(result.seconds / config.epochs, 1),
                     "test_seconds_per_volume": round(seconds / len(test), 1),
                     "boxes_per_volume": round(float(np.mean([len(s) for _, s in predictions])), 1),
                     "test_lesions": int(sum(len(t) for t in truths)),
                     "losses": [round(h["loss"], 3) for h in result.history]})
        print(json.dumps(rows[-1]), flush=True)
    return rows


if __name__ == "__main__":
    torch.set_num_threads(2)
    tasks = sys.argv[1:] or ["classify", "detect"]
    for task in tasks:
        {"classify": classify, "detect": detect}[task]()
