"""Lesion detection by segmentation: a 3D U-Net (MONAI, trained by the segmentation engine on the lesions'
voxels) gives a lesion probability per voxel; each connected region of it becomes one box in LPS mm,
scored by its highest probability. The way nnU-Net and most LUNA16/lesion challenge entries detect blob-like
lesions: every voxel is a training example, so far fewer volumes are needed than for box regression."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage

from ..errors import InputError
from ..segment.data import Case
from ..segment.inference import model_probabilities, to_model_space
from ..segment.networks import build_network
from ..segment.train import train_segmentation
from ..train import Event, TrainConfig, TrainResult
from ..volume import Volume
from .boxes import index_box
from .data import TASK, DetectionCase, checked_training, numbered_on, truth_boxes
from .metrics import detection_metrics, smaller_than

ARCHITECTURES_SEGMENTATION = ("unet3d",)
CANDIDATE = 0.1   # probability above which voxels form a candidate region (FROC counts low scores too)


def build_unet3d(arguments: dict) -> torch.nn.Module:
    return build_network("unet", arguments)


def as_segmentation_case(case: DetectionCase) -> Case:
    """The case as a segmentation case: lesion voxels (label map > 0, or filled boxes) are 1."""
    mask = (numbered_on(case, case.image) > 0).astype(np.uint8)
    return Case(case.name, case.image, case.image.with_array(mask))


def regions_to_boxes(probability: np.ndarray, grid: Volume,
                     threshold: float = CANDIDATE) -> tuple[np.ndarray, np.ndarray]:
    """(boxes (n, 6) LPS mm, scores (n,)), best first: one box per connected region (26-connected) of
    probability > threshold, around its voxels above half the region's peak (so that a faint halo does not
    inflate the box), scored by the peak."""
    regions, _ = ndimage.label(probability > threshold, structure=np.ones((3,) * probability.ndim))
    boxes, scores = [], []
    for n, where in enumerate(ndimage.find_objects(regions), start=1):
        p = np.where(regions[where] == n, probability[where], 0.0)
        peak = float(p.max())
        kji = np.argwhere(p >= peak / 2) + [s.start for s in where]
        boxes.append(index_box(grid, kji.min(0)[::-1].astype(float), kji.max(0)[::-1].astype(float)))
        scores.append(peak)
    order = np.argsort(-np.array(scores), kind="stable")
    return np.array(boxes, float).reshape(-1, 6)[order], np.array(scores, float)[order]


@torch.no_grad()
def detect_by_segmentation(model: torch.nn.Module, card: dict, image: Volume, flips: bool = False,
                           report: Callable[[str], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(boxes (n, 6) LPS mm, scores (n,)), best first, from the U-Net's sliding-window lesion probability."""
    x, grid = to_model_space([image], card)
    probability = model_probabilities(model, card, x, next(model.parameters()).device, flips,
                                      card.get("overlap", 0.5), report)[1]
    return regions_to_boxes(probability, grid)


def train_unet_detector(train: list[DetectionCase], val: list[DetectionCase], config: TrainConfig,
                        out: str | Path | None = None, *, spacing: tuple[float, float, float] = (2.0, 2.0, 2.0),
                        patch_size: tuple[int, int, int] = (32, 32, 32), normalisation: str = "percentile",
                        patches_per_volume: int = 16, augment: bool = True, min_size_mm: float = 0.0,
                        resume: str | Path | None = None, on_event: Callable[[Event], None] | None = None,
                        cancel: Callable[[], bool] | None = None) -> tuple[TrainResult, dict]:
    """Train and return (engine result, model card); validation reports FROC and mAP on whole `val` volumes,
    counting lesions smaller than `min_size_mm` neither as targets nor as false positives. Patches are
    centred on lesion and on background voxels in equal numbers (the segmentation engine's sampling)."""
    train, val = checked_training(train, val, spacing)
    if len(patch_size) != 3:
        raise InputError(f"The 3D patch size needs 3 values, got {tuple(patch_size)}.")
    val_truth = [truth_boxes(c) for c in val]
    ignore = smaller_than(val_truth, min_size_mm)

    def validation(card: dict) -> Callable[[torch.nn.Module], dict]:
        def validate(net: torch.nn.Module) -> dict[str, float]:
            return detection_metrics([detect_by_segmentation(net, card, c.image) for c in val], val_truth,
                                     ignore=ignore)
        return validate

    extra = {"task": TASK, "network": "unet3d", "architecture": "unet3d", "pipeline": "segmentation",
             "classes": ["lesion"]}
    return train_segmentation([as_segmentation_case(c) for c in train], [], [{"value": 1, "name": "lesion"}], config, out,
                              patch=tuple(patch_size), spacing=tuple(spacing), normalisation=normalisation,
                              samples_per_case=patches_per_volume, augment=augment, resume=resume,
                              on_event=on_event, cancel=cancel, card_extra=extra,
                              validation=validation if val else None)
