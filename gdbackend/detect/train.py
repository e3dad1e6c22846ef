"""Train a Faster R-CNN on 2.5D slices of volumes with known lesions, with the shared engine."""
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
from .boxes import image_box
from .data import DetectionCase, checked_training, numbered_on, truth_boxes
from .metrics import detection_metrics, smaller_than
from .model import build_detector, detector_arguments
from .predict import TASK, detect_volume
from .slices import TISSUE, foreground_slices, slice_boxes, stack, volume_slices


def default_size(cases: list[DetectionCase], spacing: tuple[float, ...]) -> int:
    """The in-plane slice size that covers every training volume, rounded up to a multiple of 32."""
    widest = max(float(np.max((image_box(c.image)[3:5] - image_box(c.image)[:2]) / np.asarray(spacing[:2])))
                 for c in cases)
    return int(np.ceil(widest / 32) * 32)


def random_crop(stack: np.ndarray, boxes: np.ndarray, crop: int,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A crop x crop window of a (3, H, W) stack holding one of its boxes whole (a tissue point on a slice
    without lesions), with the boxes that keep at least half their area inside it."""
    h, w = stack.shape[1:]
    if len(boxes):
        x0, y0, x1, y1 = boxes[rng.integers(len(boxes))]
        # every origin between these keeps the box inside (a box wider than the crop stays centred)
        low, high = np.array([x1, y1]) - crop, np.array([x0, y0])
        origin = rng.uniform(np.minimum(low, high), np.maximum(low, high))
    else:
        ys, xs = np.nonzero(stack[1] > TISSUE)
        j = rng.integers(len(ys)) if len(ys) else None
        origin = (np.array([xs[j], ys[j]]) if j is not None else np.array([w, h]) / 2) - crop / 2
    ox, oy = np.clip(np.floor(origin), 0, [w - crop, h - crop]).astype(int)
    shifted = boxes - np.array([ox, oy, ox, oy], np.float32)
    clipped = np.clip(shifted, 0, crop)

    def area(b: np.ndarray) -> np.ndarray:
        return (b[:, 2] - b[:, 0]).clip(0) * (b[:, 3] - b[:, 1]).clip(0)

    return stack[:, oy:oy + crop, ox:ox + crop], clipped[area(clipped) >= 0.5 * area(shifted)]


class SliceDataset(Dataset):
    """2.5D stacks with their lesion boxes, flipped at random and, with `crop`, cut to crop x crop pixels
    around one of their lesions (most of a slice is background: crops spend the compute where the detector
    learns). The randomness is seeded by epoch and item (the engine calls `set_epoch`), so a resumed run
    repeats exactly."""

    def __init__(self, stacks: list[np.ndarray], boxes: list[np.ndarray], augment: bool, seed: int | None,
                 crop: int | None = None):
        self.stacks, self.boxes, self.augment, self.seed, self.crop = stacks, boxes, augment, seed or 0, crop
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.stacks)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, dict]:
        rng = np.random.default_rng([self.seed, self.epoch, i])
        x, b = self.stacks[i], self.boxes[i]
        if self.crop:
            x, b = random_crop(x, b, self.crop, rng)
        x, b = torch.as_tensor(np.ascontiguousarray(x)), torch.as_tensor(b).clone()
        h, w = x.shape[1:]
        flips = rng.random(2) < 0.5 if self.augment else (False, False)
        if flips[0]:
            x, b[:, [0, 2]] = x.flip(2), w - b[:, [2, 0]]
        if flips[1]:
            x, b[:, [1, 3]] = x.flip(1), h - b[:, [3, 1]]
        return x, {"boxes": b, "labels": torch.ones(len(b), dtype=torch.int64)}


def training_slices(cases: list[DetectionCase], card: dict, negative_ratio: float,
                    rng: np.random.Generator) -> tuple[list[np.ndarray], list[np.ndarray]]:
    stacks, boxes = [], []
    for case in cases:
        array, grid = volume_slices(case.image, card)
        numbered = numbered_on(case, grid)
        positive = np.flatnonzero(numbered.reshape(len(numbered), -1).any(1))
        empty = np.setdiff1d(foreground_slices(array), positive)
        n_neg = min(len(empty), int(round(negative_ratio * max(len(positive), 1))))
        for k in [*positive, *rng.choice(empty, n_neg, replace=False)]:
            stacks.append(stack(array, int(k)))
            boxes.append(slice_boxes(numbered, int(k)))
    return stacks, boxes


def collate(batch: list) -> tuple[list, list]:
    return [x for x, _ in batch], [t for _, t in batch]


def train_detector(train: list[DetectionCase], val: list[DetectionCase], config: TrainConfig,
                   out: str | Path | None = None, *, architecture: str = "resnet50_fpn",
                   spacing: tuple[float, float, float] = (1.0, 1.0, 2.0), size: int | None = None,
                   normalisation: str = "percentile", negative_ratio: float = 0.5, augment: bool = True,
                   crop: int | None = None,
                   weights: str | Path | None = None, min_size_mm: float = 0.0, resume: str | Path | None = None,
                   on_event: Callable[[Event], None] | None = None,
                   cancel: Callable[[], bool] | None = None) -> tuple[TrainResult, dict]:
    """Train and return (engine result, model card); validation reports FROC and mAP on `val` volumes,
    counting lesions smaller than `min_size_mm` neither as targets nor as false positives. `crop` trains on
    windows of that many pixels (the detector is convolutional: it still detects on whole slices)."""
    train, val = checked_training(train, val, spacing)
    normaliser(normalisation)
    size = size or default_size(train, spacing)
    if size < 64 or size % 32:
        raise InputError(f"The slice size must be a multiple of 32 and at least 64 pixels, got {size}.")
    if crop is not None and not (64 <= crop <= size and crop % 32 == 0):
        raise InputError(f"The training crop must be a multiple of 32 between 64 and the slice size {size}, "
                         f"got {crop}.")
    arguments = detector_arguments(architecture, size)
    seed_everything(config.seed)   # the initial weights too, so that a run with a seed repeats
    model = build_detector(architecture, arguments, weights)
    card = {"task": TASK, "architecture": architecture, "arguments": arguments, "in_channels": 3,
            "channels": ["slice k-1", "slice k", "slice k+1"], "spacing": list(spacing), "size": size,
            "normalisation": normalisation, "classes": ["lesion"]}
    stacks, boxes = training_slices(train, card, negative_ratio, np.random.default_rng(config.seed))
    val_truth = [truth_boxes(c) for c in val]
    ignore = smaller_than(val_truth, min_size_mm)
    val_slices = [volume_slices(c.image, card) for c in val]
    card["data"] = {"train_volumes": [c.name for c in train], "val_volumes": [c.name for c in val],
                    "train_slices": len(stacks), "lesion_slices": int(sum(len(b) > 0 for b in boxes)),
                    "min_size_mm": min_size_mm, "crop": crop}

    def loss_fn(net: torch.nn.Module, batch: tuple[list, list]) -> torch.Tensor:
        return sum(net(*batch).values())

    def validate(net: torch.nn.Module) -> dict[str, float]:
        predictions = [detect_volume(net, card, c.image, prepared=s) for c, s in zip(val, val_slices)]
        return detection_metrics(predictions, val_truth, ignore=ignore)

    dataset = SliceDataset(stacks, boxes, augment, config.seed, crop)
    result = fit(model, loss_fn, dataset, config, card=card, validate=validate if val else None, collate=collate,
                 out=out, resume=resume, on_event=on_event, cancel=cancel)
    return result, card
