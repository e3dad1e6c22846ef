"""The 2.5D detectors' training data: the stacks of the lesion slices and of some lesion-free ones with their
pixel boxes, flipped and cropped at random."""
from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from ..data import DetectionCase, numbered_on
from .slices import TISSUE, foreground_slices, slice_boxes, stack, volume_slices


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
    """(stacks (3, H, W), pixel boxes (n, 4)) of every slice cut by a lesion and of `negative_ratio` times as
    many lesion-free tissue slices, on the slice grid of `card`."""
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
