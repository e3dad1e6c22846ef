"""Detect lesions in a volume: the model on every tissue slice (2.5D stacks), slice boxes merged into
3D boxes in LPS mm."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ..device import model_on, with_memory_fallback
from ..train import load_network
from ..volume import Volume
from .data import TASK
from .merge import merge_slices
from .model import build_detector
from .retina3d import detect_whole_volume
from .segmentation import detect_by_segmentation
from .slices import TISSUE, foreground_slices, stack, volume_slices


def load_detector(path: str | Path, device: str | torch.device = "cpu") -> tuple[torch.nn.Module, dict]:
    """(detector in eval mode, model card); a model of another task gives a ModelError."""
    return load_network(path, TASK, build_detector, device)


def _on_tissue(image: np.ndarray, boxes: np.ndarray, threshold: float = TISSUE) -> np.ndarray:
    """Lesions lie in tissue: boxes centred on background (e.g. slivers at the slice edge) are dropped."""
    h, w = image.shape
    cx = np.clip(((boxes[:, 0] + boxes[:, 2]) / 2).astype(int), 0, w - 1)
    cy = np.clip(((boxes[:, 1] + boxes[:, 3]) / 2).astype(int), 0, h - 1)
    return image[cy, cx] > threshold


@torch.no_grad()
def detect_volume(model: torch.nn.Module, card: dict, image: Volume, batch_size: int = 4,
                  prepared: tuple[np.ndarray, Volume] | None = None,
                  report: Callable[[str], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(boxes (n, 6) LPS mm, scores (n,)), best first; `prepared` reuses volume_slices' output. A model
    whose card names the 3D or the segmentation pipeline detects on the whole volume instead. Out of memory,
    fewer slices (or windows) go through at a time, then the CPU takes over."""
    if card.get("pipeline") == "3d":
        return detect_whole_volume(model, card, image)
    if card.get("pipeline") == "segmentation":
        return detect_by_segmentation(model, card, image, report=report)
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
