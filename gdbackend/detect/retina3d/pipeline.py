"""The 3D pipeline: MONAI's RetinaNet on whole volumes, resampled onto an LPS-aligned grid at the model spacing,
trained with the shared engine on random patches; inference runs through the detector's own sliding window of
the training patch size. Boxes come back in LPS mm with scores, as from the 2.5D detectors."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from monai.apps.detection.networks.retinanet_detector import RetinaNetDetector

from ...boxes import to_physical, to_voxels
from ...device import seed_everything
from ...errors import InputError
from ...grids import covering_grid, normalised_on
from ...segment.preprocess import normaliser
from ...train import Event, TrainConfig, TrainResult, fit
from ...volume import Volume
from ..data import DetectionCase, check_3d, checked_training, truth_boxes
from ..pipeline import TASK, DetectionPipeline
from ..training import collate, load_matching, summed_loss, validator
from .dataset import PatchDataset
from .network import build_retina3d, retina3d_arguments, size_divisible


def volume_input(volume: Volume, card: dict) -> tuple[np.ndarray, Volume]:
    """(normalised float32 array in (x, y, z) order, as MONAI's detector reads it, on the model grid that covers
    the volume at card["spacing"] (x, y, z mm); that grid)."""
    grid = covering_grid(check_3d(volume), card["spacing"])
    return np.ascontiguousarray(normalised_on(volume, grid, card["normalisation"]).transpose(2, 1, 0)), grid


@torch.no_grad()
def detect_whole_volume(model: RetinaNetDetector, card: dict, image: Volume,
                        prepared: tuple[np.ndarray, Volume] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(boxes (n, 6) LPS mm, scores (n,)), best first; `prepared` reuses volume_input's output."""
    array, grid = prepared if prepared is not None else volume_input(image, card)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    found = model([torch.as_tensor(array[None], device=device)], use_inferer=True)[0]
    model.train(was_training)
    boxes, scores = found["boxes"].cpu().numpy().astype(float), found["labels_scores"].cpu().numpy().astype(float)
    keep = np.all(boxes[:, 3:] - boxes[:, :3] > 0, 1)
    order = np.argsort(-scores[keep])
    return to_physical(boxes[keep][order], grid), scores[keep][order]


def train_retina3d(train: list[DetectionCase], val: list[DetectionCase], config: TrainConfig,
                   out: str | Path | None = None, *, spacing: tuple[float, float, float] = (2.0, 2.0, 2.0),
                   patch_size: tuple[int, int, int] = (64, 64, 64), backbone: str = "resnet10",
                   normalisation: str = "percentile", patches_per_volume: int = 4, positive_fraction: float = 0.5,
                   augment: bool = True, weights: str | Path | None = None, min_size_mm: float = 0.0,
                   resume: str | Path | None = None, on_event: Callable[[Event], None] | None = None,
                   cancel: Callable[[], bool] | None = None) -> tuple[TrainResult, dict]:
    """Train and return (engine result, model card); validation reports FROC and mAP on whole `val` volumes.

    Args:
        spacing: the model grid's spacing (x, y, z mm).
        patch_size: training patch and sliding window (x, y, z voxels; multiples of 16 for the default layers).
        patches_per_volume: random patches per volume and epoch, `positive_fraction` of them near a lesion.
        weights: a local weights file, loaded where its tensors fit.
        min_size_mm: validation counts lesions smaller than this (mm) neither as targets nor as false positives.
    """
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
    model = build_retina3d(arguments)
    if weights is not None:
        load_matching(model, weights)
    card = {"task": TASK, "architecture": "retinanet3d", "pipeline": "3d", "arguments": arguments, "in_channels": 1,
            "channels": ["image"], "spacing": list(spacing), "patch_size": list(arguments["patch_size"]),
            "normalisation": normalisation, "classes": ["lesion"]}
    inputs = [volume_input(c.image, card) for c in train]
    boxes = [to_voxels(truth_boxes(c), grid) for c, (_, grid) in zip(train, inputs)]
    val_inputs = [volume_input(c.image, card) for c in val]
    validate = validator(val, min_size_mm, lambda net, i: detect_whole_volume(net, card, val[i].image,
                                                                              prepared=val_inputs[i]))
    card["data"] = {"train_volumes": [c.name for c in train], "val_volumes": [c.name for c in val],
                    "patches_per_volume": patches_per_volume, "positive_fraction": positive_fraction,
                    "min_size_mm": min_size_mm}
    dataset = PatchDataset([a for a, _ in inputs], boxes, tuple(arguments["patch_size"]), patches_per_volume,
                           positive_fraction, augment, config.seed)
    result = fit(model, summed_loss, dataset, config, card=card, validate=validate if val else None,
                 collate=collate, out=out, resume=resume, on_event=on_event, cancel=cancel)
    return result, card


class Retina3DPipeline(DetectionPipeline):
    name = "3d"
    architectures = ("retinanet3d",)
    description = "detects in whole volumes"
    options = ("patch_size", "patches_per_volume", "weights")

    def build(self, architecture: str, arguments: dict) -> torch.nn.Module:
        return build_retina3d(arguments)

    def train(self, architecture: str, train: list[DetectionCase], val: list[DetectionCase], config: TrainConfig,
              out: str | Path | None = None, **options) -> tuple[TrainResult, dict]:
        return train_retina3d(train, val, config, out, **options)

    def detect(self, model: torch.nn.Module, card: dict, image: Volume, batch_size: int = 4,
               report: Callable[[str], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
        return detect_whole_volume(model, card, image)

    def summary(self, card: dict) -> dict:
        return {"patch_size": card["patch_size"]}


RETINA_3D = Retina3DPipeline()
