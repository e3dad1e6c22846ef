"""Detection by segmentation: a 3D U-Net (MONAI, trained by the segmentation engine on the lesions' voxels) gives
a lesion probability per voxel; each connected region of it becomes one box in LPS mm, scored by its highest
probability. The way nnU-Net and most LUNA16/lesion challenge entries detect blob-like lesions: every voxel is
a training example, so far fewer volumes are needed than for box regression."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ...errors import InputError
from ...segment.data import Case
from ...segment.inference import model_probabilities, to_model_space
from ...segment.networks import build_network
from ...segment.train import train_segmentation
from ...train import Event, TrainConfig, TrainResult
from ...volume import Volume
from ..data import DetectionCase, checked_training, numbered_on
from ..pipeline import TASK, DetectionPipeline
from ..training import validator
from .regions import regions_to_boxes


def as_segmentation_case(case: DetectionCase) -> Case:
    """The case as a segmentation case: lesion voxels (label map > 0, or filled boxes) are 1."""
    mask = (numbered_on(case, case.image) > 0).astype(np.uint8)
    return Case(case.name, case.image, case.image.with_array(mask))


@torch.no_grad()
def detect_by_segmentation(model: torch.nn.Module, card: dict, image: Volume, flips: bool = False,
                           report: Callable[[str], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(boxes (n, 6) LPS mm, scores (n,)), best first, from the U-Net's sliding-window lesion probability;
    `flips` averages it over mirrored inputs."""
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
    """Train and return (engine result, model card); validation reports FROC and mAP on whole `val` volumes.
    Patches are centred on lesion and on background voxels in equal numbers (the segmentation engine's sampling).

    Args:
        spacing: the model grid's spacing (x, y, z mm).
        patch_size: training patch and sliding window (x, y, z voxels; multiples of 8).
        patches_per_volume: random patches per volume and epoch.
        min_size_mm: validation counts lesions smaller than this (mm) neither as targets nor as false positives.
    """
    train, val = checked_training(train, val, spacing)
    if len(patch_size) != 3:
        raise InputError(f"The 3D patch size needs 3 values, got {tuple(patch_size)}.")

    def validation(card: dict) -> Callable[[torch.nn.Module], dict[str, float]]:
        return validator(val, min_size_mm, lambda net, i: detect_by_segmentation(net, card, val[i].image))

    extra = {"task": TASK, "network": "unet3d", "architecture": "unet3d", "pipeline": "segmentation",
             "classes": ["lesion"]}
    return train_segmentation([as_segmentation_case(c) for c in train], [], [{"value": 1, "name": "lesion"}], config,
                              out, patch=tuple(patch_size), spacing=tuple(spacing), normalisation=normalisation,
                              samples_per_case=patches_per_volume, augment=augment, resume=resume,
                              on_event=on_event, cancel=cancel, card_extra=extra,
                              validation=validation if val else None)


class SegmentationPipeline(DetectionPipeline):
    name = "segmentation"
    architectures = ("unet3d",)
    description = "segments lesions in whole volumes with a U-Net trained from random weights"
    options = ("patch_size", "patches_per_volume")

    def build(self, architecture: str, arguments: dict) -> torch.nn.Module:
        return build_network("unet", arguments)

    def train(self, architecture: str, train: list[DetectionCase], val: list[DetectionCase], config: TrainConfig,
              out: str | Path | None = None, **options) -> tuple[TrainResult, dict]:
        return train_unet_detector(train, val, config, out, **options)

    def detect(self, model: torch.nn.Module, card: dict, image: Volume, batch_size: int = 4,
               report: Callable[[str], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
        return detect_by_segmentation(model, card, image, report=report)

    def summary(self, card: dict) -> dict:
        return {"patch_size": card["patch"]}


SEGMENTATION = SegmentationPipeline()
