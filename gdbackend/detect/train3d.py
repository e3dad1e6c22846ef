"""Train MONAI's 3D RetinaNet on patches of whole volumes with known lesions, with the shared engine."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch.utils.data import Dataset

from ..device import seed_everything
from ..errors import InputError
from ..segment.preprocess import normaliser
from ..train import Event, TrainConfig, TrainResult, fit
from .data import DetectionCase, checked_training, truth_boxes
from .metrics import detection_metrics, smaller_than
from .model import build_detector
from .predict import TASK
from .retina3d import detect_whole_volume, retina3d_arguments, size_divisible, to_voxels, volume_input
from .train import collate


class PatchDataset(Dataset):
    """Random patches of the model-grid volumes with the lesion boxes whose centre they hold (clipped to the
    patch): `positive_fraction` of them centred near a lesion (up to a quarter patch off), the others
    anywhere in tissue, with random flips; redrawn per epoch through `set_epoch` (exact resume)."""

    def __init__(self, arrays: list[np.ndarray], boxes: list[np.ndarray], patch: tuple[int, int, int],
                 per_volume: int, positive_fraction: float, augment: bool, seed: int | None):
        self.patch = np.asarray(patch)
        # volumes smaller than a patch are padded with background at their far end
        pad = [[(0, max(int(p) - s, 0)) for p, s in zip(patch, a.shape)] for a in arrays]
        self.arrays = [np.pad(a, w) for a, w in zip(arrays, pad)]
        self.boxes, self.augment, self.seed = boxes, augment, seed or 0
        self.positive_fraction, self.length = positive_fraction, per_volume * len(arrays)
        # tissue voxels (x, y, z; every 4th along each axis is enough) where a negative patch may be centred
        self.tissue = [np.argwhere(a[::4, ::4, ::4] > 0.05) * 4 for a in self.arrays]
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        rng = np.random.default_rng([self.seed, epoch])
        self.starts, self.flips = [], rng.random((self.length, 3)) < 0.5
        for i in range(self.length):
            n = i % len(self.arrays)
            array, boxes = self.arrays[n], self.boxes[n]
            if len(boxes) and rng.random() < self.positive_fraction:
                box = boxes[rng.integers(len(boxes))]
                center = (box[:3] + box[3:]) / 2 + rng.uniform(-0.25, 0.25, 3) * self.patch
            else:
                tissue = self.tissue[n]
                center = tissue[rng.integers(len(tissue))] + 0.5 if len(tissue) else np.array(array.shape) / 2
            start = np.clip(np.round(center - self.patch / 2), 0, np.array(array.shape) - self.patch).astype(int)
            self.starts.append(start)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> tuple[torch.Tensor, dict]:
        n, start = i % len(self.arrays), self.starts[i]
        block = tuple(slice(s, s + p) for s, p in zip(start, self.patch))
        x = torch.as_tensor(self.arrays[n][block].copy())[None]
        boxes = self.boxes[n] - np.tile(start, 2)
        centers = (boxes[:, :3] + boxes[:, 3:]) / 2
        inside = np.all((centers >= 0) & (centers < self.patch), 1)
        b = torch.as_tensor(np.clip(boxes[inside], 0, np.tile(self.patch, 2)), dtype=torch.float32)
        for axis in np.flatnonzero(self.flips[i]) if self.augment else ():
            x = x.flip(int(axis) + 1)
            b[:, [axis, axis + 3]] = float(self.patch[axis]) - b[:, [axis + 3, axis]]
        return x, {"boxes": b, "labels": torch.zeros(len(b), dtype=torch.int64)}


def train_retina3d(train: list[DetectionCase], val: list[DetectionCase], config: TrainConfig,
                   out: str | Path | None = None, *, spacing: tuple[float, float, float] = (2.0, 2.0, 2.0),
                   patch_size: tuple[int, int, int] = (64, 64, 64), backbone: str = "resnet10",
                   normalisation: str = "percentile", patches_per_volume: int = 4, positive_fraction: float = 0.5,
                   augment: bool = True, weights: str | Path | None = None, min_size_mm: float = 0.0,
                   resume: str | Path | None = None, on_event: Callable[[Event], None] | None = None,
                   cancel: Callable[[], bool] | None = None) -> tuple[TrainResult, dict]:
    """Train and return (engine result, model card); validation reports FROC and mAP on whole `val` volumes,
    counting lesions smaller than `min_size_mm` neither as targets nor as false positives."""
    train, val = checked_training(train, val, spacing)
    if patches_per_volume < 1 or not 0 <= positive_fraction <= 1:
        raise InputError(f"Need at least one patch per volume and a positive fraction in [0, 1], got "
                         f"{patches_per_volume} and {positive_fraction}.")
    normaliser(normalisation)
    arguments = retina3d_arguments(tuple(int(p) for p in patch_size), backbone)
    step = size_divisible(arguments)
    if len(patch_size) != 3 or any(p < step or p % step for p in patch_size):
        raise InputError(f"The 3D patch size must be 3 multiples of {step} (at least {step}), got {tuple(patch_size)}.")
    seed_everything(config.seed)   # the initial weights too, so that a run with a seed repeats
    model = build_detector("retinanet3d", arguments, weights)
    card = {"task": TASK, "architecture": "retinanet3d", "pipeline": "3d", "arguments": arguments, "in_channels": 1,
            "channels": ["image"], "spacing": list(spacing), "patch_size": list(arguments["patch_size"]),
            "normalisation": normalisation, "classes": ["lesion"]}
    inputs = [volume_input(c.image, card) for c in train]
    boxes = [to_voxels(truth_boxes(c), grid) for c, (_, grid) in zip(train, inputs)]
    val_truth = [truth_boxes(c) for c in val]
    ignore = smaller_than(val_truth, min_size_mm)
    val_inputs = [volume_input(c.image, card) for c in val]
    card["data"] = {"train_volumes": [c.name for c in train], "val_volumes": [c.name for c in val],
                    "patches_per_volume": patches_per_volume, "positive_fraction": positive_fraction,
                    "min_size_mm": min_size_mm}

    def loss_fn(net: torch.nn.Module, batch: tuple[list, list]) -> torch.Tensor:
        return sum(net(*batch).values())

    def validate(net: torch.nn.Module) -> dict[str, float]:
        predictions = [detect_whole_volume(net, card, c.image, prepared=p) for c, p in zip(val, val_inputs)]
        return detection_metrics(predictions, val_truth, ignore=ignore)

    dataset = PatchDataset([a for a, _ in inputs], boxes, tuple(arguments["patch_size"]), patches_per_volume,
                           positive_fraction, augment, config.seed)
    result = fit(model, loss_fn, dataset, config, card=card, validate=validate if val else None, collate=collate,
                 out=out, resume=resume, on_event=on_event, cancel=cancel)
    return result, card
