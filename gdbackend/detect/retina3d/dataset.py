"""MONAI's 3D RetinaNet's training data: random patches of the model-grid volumes with their lesion boxes."""
from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset


class PatchDataset(Dataset):
    """Random patches of the model-grid volumes with the lesion boxes whose centre they hold (clipped to the
    patch): `positive_fraction` of them centred near a lesion (up to a quarter patch off), the others
    anywhere in tissue, with random flips; redrawn per epoch through `set_epoch` (exact resume).

    Args:
        arrays: normalised volumes on the model grid, (x, y, z) order.
        boxes: per volume, (n, 6) lesion boxes in continuous voxels of its array (boxes.to_voxels).
        patch: patch size in voxels (x, y, z).
        per_volume: patches per volume and epoch.
    """

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
