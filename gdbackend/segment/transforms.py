"""Training samples: random patches of cached model-space cases, centred on every class in equal numbers
(background mostly inside the body) with the chosen voxel anywhere in the patch, and MONAI augmentation
(affine rotation/scaling, left-right flips, bias field, contrast, intensity scale/shift, noise).

Each sample is augmented with a random state drawn from (seed, epoch, index), so a sample is the same
whatever process or resume produced it: DDP and `--resume` repeat a single-process run exactly. The steps draw
from that one generator in turn, and run on plain tensors (no MONAI metadata, which training never reads):
together 1.4-1.7x faster per sample on a CPU than a generator per step and metadata tracking.
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from monai.data import get_track_meta, set_track_meta
from monai.transforms import (
    Compose,
    RandAdjustContrastd,
    RandAffined,
    RandBiasFieldd,
    RandCropByLabelClassesd,
    RandFlipd,
    RandGaussianNoised,
    RandScaleIntensityd,
    RandShiftIntensityd,
    RandSpatialCropd,
)
from torch.utils.data import Dataset

AUGMENT_MARGIN = 1.25  # crop this much larger, so that rotated/scaled patches have no empty corners
AIR_SHARE = 0.2        # of the background crops, centred outside the body: enough to keep empty space empty


def class_map(label: np.ndarray, values: list[int]) -> np.ndarray:
    """Label values -> class indices 1..K in the order of the label list (0 stays background)."""
    out = np.zeros(label.shape, np.uint8)
    for k, v in enumerate(values, start=1):
        out[label == v] = k
    return out


def centre_indices(image: np.ndarray, classes: np.ndarray, n_classes: int) -> list[np.ndarray]:
    """Flat indices of the voxels a crop may be centred on, per kind: background outside the body, background
    inside it, then each class. Most background crops fall on the body, where the anatomy that looks like
    foreground is, instead of on the air that fills much of a padded scan."""
    flat, values = classes.ravel(), image[0].ravel()
    low = values.min()
    body = values > low + 0.1 * (np.percentile(values, 99) - low)
    dtype = np.int32 if flat.size < 2 ** 31 else np.int64   # the indices are half the cache: int64 doubles it
    return [np.flatnonzero(m).astype(dtype) for m in
            ((flat == 0) & ~body, (flat == 0) & body, *(flat == k for k in range(1, n_classes)))]


def crop_sizes(patch: tuple[int, ...], augment: bool) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(crop, outer): the region cut before augmentation, and the larger region centred on the sampled voxel
    that the crop is drawn from."""
    crop = tuple(math.ceil(p * AUGMENT_MARGIN) for p in patch) if augment else tuple(patch)
    return crop, tuple(c + p for c, p in zip(crop, patch))


def augmentation(patch: tuple[int, ...], n_classes: int, augment: bool) -> Compose:
    """A crop around a voxel of a random class, placed anywhere in the patch: a voxel always at the patch
    centre teaches the network that the centre is foreground, which small structures (lesions) then
    show as false positives at the centre of every sliding window."""
    d = len(patch)
    crop, outer = crop_sizes(patch, augment)
    keys = ("image", "label")
    ratios = [AIR_SHARE, 1 - AIR_SHARE] + [1.0] * (n_classes - 1)
    steps = [RandCropByLabelClassesd(keys, "label", outer, ratios=ratios, num_samples=1, indices_key="indices",
                                     warn=False),
             RandSpatialCropd(keys, crop, random_size=False)]
    if augment:
        steps += [
            RandAffined(keys, spatial_size=patch, prob=0.8, rotate_range=[0.26] * (3 if d == 3 else 1),
                        scale_range=[0.15] * d, mode=("bilinear", "nearest"), padding_mode="zeros",
                        cache_grid=True),
            RandFlipd(keys, prob=0.5, spatial_axis=d - 1),  # left-right: the last (x) axis of a KJI array
            RandBiasFieldd("image", prob=0.4, coeff_range=(0.0, 0.3)),
            RandAdjustContrastd("image", prob=0.4, gamma=(0.6, 1.6)),
            RandScaleIntensityd("image", factors=0.2, prob=0.5),
            RandShiftIntensityd("image", offsets=0.1, prob=0.5),
            RandGaussianNoised("image", prob=0.3, std=0.03),
        ]
    return Compose(steps)


def surround(array: np.ndarray, crop: tuple[int, ...]) -> np.ndarray:
    """Pad (C, ...) by half a crop of background on every side (at least to the crop size): scans at
    inference often hold far more empty space around the head than a tightly cropped training image, and
    a network that never saw empty patches fills them with foreground."""
    pad = [(0, 0)] + [(c // 2 + max(c - n, 0) // 2, c // 2 + max(c - n, 0) - max(c - n, 0) // 2)
                      for c, n in zip(crop, array.shape[1:])]
    return np.pad(array, pad, constant_values=array.min())


@contextmanager
def untracked() -> Iterator[None]:
    """MONAI transforms on plain tensors for the duration: the metadata each step would copy and update is
    a fifth of the augmentation's time, and nothing in training reads it."""
    tracked = get_track_meta()
    set_track_meta(False)
    try:
        yield
    finally:
        set_track_meta(tracked)


class PatchDataset(Dataset):
    """`samples_per_case` patches per case and epoch from cached (image (C,...), class map) arrays."""

    def __init__(self, cases: list[tuple[np.ndarray, np.ndarray]], patch: tuple[int, ...], n_classes: int,
                 samples_per_case: int = 4, augment: bool = True, seed: int | None = 0) -> None:
        _, outer = crop_sizes(patch, augment)
        self.cases = []
        for image, classes in cases:  # pad once and index the classes once: the cache
            image, classes = surround(image, outer), surround(classes[None], outer)
            self.cases.append({"image": image.astype(np.float32), "label": classes.astype(np.uint8),
                               "indices": centre_indices(image, classes, n_classes)})
        self.transform = augmentation(tuple(patch), n_classes, augment)
        self.samples_per_case, self.seed, self.epoch = samples_per_case, seed or 0, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.cases) * self.samples_per_case

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        rng = np.random.RandomState(np.random.SeedSequence([self.seed, self.epoch, i]).generate_state(1))
        for step in self.transform.transforms:   # a generator per step (Compose's way) costs as much as a crop
            step.set_random_state(state=rng)
        with untracked():
            out = self.transform(dict(self.cases[i % len(self.cases)]))[0]
        return {"image": torch.as_tensor(out["image"], dtype=torch.float32),
                "label": torch.as_tensor(out["label"], dtype=torch.float32)}
