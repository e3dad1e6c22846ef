"""The 2.5D pipeline (DeepLesion style): torchvision's two-stage (Faster R-CNN) or one-stage (RetinaNet, FCOS)
detectors on axial slices stacked with their two neighbours, trained with the shared engine; at inference
the detector runs on every tissue slice and its slice boxes are merged into 3D boxes in LPS mm."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ...boxes import image_box
from ...device import model_on, seed_everything, with_memory_fallback
from ...errors import InputError
from ...segment.preprocess import normaliser
from ...train import Event, TrainConfig, TrainResult, fit
from ...volume import Volume
from ..data import DetectionCase, checked_training
from ..pipeline import TASK, DetectionPipeline
from ..training import collate, load_matching, summed_loss, validator
from .dataset import SliceDataset, training_slices
from .merge import merge_slices
from .networks import ARCHITECTURES, build_slice_detector, detector_arguments
from .slices import TISSUE, foreground_slices, stack, volume_slices


def _on_tissue(image: np.ndarray, boxes: np.ndarray, threshold: float = TISSUE) -> np.ndarray:
    """Lesions lie in tissue: boxes centred on background (e.g. slivers at the slice edge) are dropped."""
    h, w = image.shape
    cx = np.clip(((boxes[:, 0] + boxes[:, 2]) / 2).astype(int), 0, w - 1)
    cy = np.clip(((boxes[:, 1] + boxes[:, 3]) / 2).astype(int), 0, h - 1)
    return image[cy, cx] > threshold


@torch.no_grad()
def detect_slices(model: torch.nn.Module, card: dict, image: Volume, batch_size: int = 4,
                  prepared: tuple[np.ndarray, Volume] | None = None,
                  report: Callable[[str], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(boxes (n, 6) LPS mm, scores (n,)), best first; `prepared` reuses volume_slices' output. Out of memory,
    fewer slices go through at a time, then the CPU takes over."""
    array, grid = prepared if prepared is not None else volume_slices(image, card)
    was_training = model.training
    model.eval()
    ks = foreground_slices(array)

    def run(on: torch.device, size: int) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        per_slice = {}
        with model_on(model, on):
            for start in range(0, len(ks), size):
                batch = ks[start:start + size]
                out = model([torch.as_tensor(stack(array, k), device=on) for k in batch])
                for k, det in zip(batch, out):
                    boxes, scores = det["boxes"].cpu().numpy(), det["scores"].cpu().numpy()
                    keep = np.all(boxes[:, 2:] - boxes[:, :2] >= 1, 1) & _on_tissue(array[k], boxes)
                    if keep.any():
                        per_slice[int(k)] = (boxes[keep], scores[keep])
        return per_slice

    try:
        per_slice = with_memory_fallback(run, next(model.parameters()).device, batch_size, report, "slice(s)")
    finally:
        model.train(was_training)
    return merge_slices(per_slice, grid)


def default_size(cases: list[DetectionCase], spacing: tuple[float, ...]) -> int:
    """The in-plane slice size that covers every training volume, rounded up to a multiple of 32."""
    widest = max(float(np.max((image_box(c.image)[3:5] - image_box(c.image)[:2]) / np.asarray(spacing[:2])))
                 for c in cases)
    return int(np.ceil(widest / 32) * 32)


def train_slice_detector(train: list[DetectionCase], val: list[DetectionCase], config: TrainConfig,
                         out: str | Path | None = None, *, architecture: str = "resnet50_fpn",
                         spacing: tuple[float, float, float] = (1.0, 1.0, 2.0), size: int | None = None,
                         normalisation: str = "percentile", negative_ratio: float = 0.5, augment: bool = True,
                         crop: int | None = None, weights: str | Path | None = None, min_size_mm: float = 0.0,
                         resume: str | Path | None = None, on_event: Callable[[Event], None] | None = None,
                         cancel: Callable[[], bool] | None = None) -> tuple[TrainResult, dict]:
    """Train and return (engine result, model card); validation reports FROC and mAP on `val` volumes.

    Args:
        spacing: the model grid's spacing (x, y, z mm).
        size: slices of size x size pixels (a multiple of 32; default: covers the widest training volume).
        negative_ratio: lesion-free slices per lesion slice.
        crop: train on windows of this many pixels around lesions (the detector is convolutional: it still
            detects on whole slices).
        weights: a local weights file, loaded where its tensors fit.
        min_size_mm: validation counts lesions smaller than this (mm) neither as targets nor as false positives.
    """
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
    model = build_slice_detector(architecture, arguments)
    if weights is not None:
        load_matching(model, weights)
    card = {"task": TASK, "architecture": architecture, "arguments": arguments, "in_channels": 3,
            "channels": ["slice k-1", "slice k", "slice k+1"], "spacing": list(spacing), "size": size,
            "normalisation": normalisation, "classes": ["lesion"]}
    stacks, boxes = training_slices(train, card, negative_ratio, np.random.default_rng(config.seed))
    val_slices = [volume_slices(c.image, card) for c in val]
    validate = validator(val, min_size_mm, lambda net, i: detect_slices(net, card, val[i].image,
                                                                        prepared=val_slices[i]))
    card["data"] = {"train_volumes": [c.name for c in train], "val_volumes": [c.name for c in val],
                    "train_slices": len(stacks), "lesion_slices": int(sum(len(b) > 0 for b in boxes)),
                    "min_size_mm": min_size_mm, "crop": crop}
    dataset = SliceDataset(stacks, boxes, augment, config.seed, crop)
    result = fit(model, summed_loss, dataset, config, card=card, validate=validate if val else None,
                 collate=collate, out=out, resume=resume, on_event=on_event, cancel=cancel)
    return result, card


class SlicePipeline(DetectionPipeline):
    name = "2.5d"   # never written: 2.5D cards predate the "pipeline" key
    architectures = tuple(ARCHITECTURES)
    description = "detects on 2.5D slices"
    options = ("size", "crop", "negative_ratio", "weights")

    def build(self, architecture: str, arguments: dict) -> torch.nn.Module:
        return build_slice_detector(architecture, arguments)

    def train(self, architecture: str, train: list[DetectionCase], val: list[DetectionCase], config: TrainConfig,
              out: str | Path | None = None, **options) -> tuple[TrainResult, dict]:
        return train_slice_detector(train, val, config, out, architecture=architecture, **options)

    def detect(self, model: torch.nn.Module, card: dict, image: Volume, batch_size: int = 4,
               report: Callable[[str], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
        return detect_slices(model, card, image, batch_size, report=report)

    def summary(self, card: dict) -> dict:
        return {"slices": card["data"]["train_slices"], "size": card["size"]}


SLICES_25D = SlicePipeline()
