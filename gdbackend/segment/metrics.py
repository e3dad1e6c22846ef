"""Segmentation metrics from MONAI (Dice, IoU, HD95 in millimetres), per label and mean; CSV per case."""
from __future__ import annotations

import csv
import warnings
from pathlib import Path

import numpy as np
import torch
from monai.metrics import compute_hausdorff_distance, compute_iou
from monai.metrics.meandice import compute_dice

from ..checks import check_mask
from ..errors import InputError
from ..volume import Volume, write_atomic

METRICS = ("dice", "iou", "hd95")


def _one_hot(array: np.ndarray, values: list[int]) -> torch.Tensor:
    return torch.stack([torch.as_tensor(array == v) for v in values])[None].float()


def evaluate(prediction: Volume, truth: Volume, labels: list[dict]) -> dict[str, float]:
    """{"dice_brain": .., "iou_brain": .., "hd95_brain": .., ..., "dice": mean, "iou": mean, "hd95": mean}."""
    if not prediction.same_grid(truth):
        check_mask(prediction, truth, "prediction")  # raises the shared "other grid" message
    if not np.any(truth.array):
        raise InputError("The reference label map is empty: evaluation needs at least one labelled voxel.")
    values = [lb["value"] for lb in labels]
    p, t = _one_hot(prediction.array, values), _one_hot(truth.array, values)
    spacing = list(reversed(truth.spacing))  # KJI array axes
    with warnings.catch_warnings():   # MONAI 1.6 warns about its own internal use of a deprecated argument
        warnings.simplefilter("ignore", FutureWarning)
        hd95 = compute_hausdorff_distance(p, t, include_background=True, percentile=95, spacing=spacing)[0]
    scores = {"dice": compute_dice(p, t, include_background=True, ignore_empty=False)[0],
              "iou": compute_iou(p, t, include_background=True, ignore_empty=False)[0], "hd95": hd95}
    out = {}
    for metric, per_label in scores.items():
        for lb, v in zip(labels, per_label.tolist()):
            out[f"{metric}_{lb['name']}"] = float(v)
        finite = [v for v in per_label.tolist() if np.isfinite(v)]
        out[metric] = float(np.mean(finite)) if finite else float("nan")
    return out


def write_csv(rows: list[dict], path: str | Path) -> Path:
    """One row per case (name + metrics), written atomically."""
    fields = list(dict.fromkeys(k for r in rows for k in r))

    def writer(tmp: Path) -> None:
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=fields)
            w.writeheader()
            w.writerows(rows)
    return write_atomic(Path(path), writer)
