"""What the detection pipelines' trainers share around the engine (gdbackend.train): batches of images with
their box targets, the summed loss of a torchvision or MONAI detector, validation by FROC and mAP on whole
volumes, and a local weights file loaded where its tensors fit."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ..errors import InputError, ModelError
from .data import DetectionCase, truth_boxes
from .metrics import detection_metrics, smaller_than


def collate(batch: list) -> tuple[list, list]:
    """(images, targets) as lists: detectors take images of different sizes with their own box counts."""
    return [x for x, _ in batch], [t for _, t in batch]


def summed_loss(net: torch.nn.Module, batch: tuple[list, list]) -> torch.Tensor:
    """A detector in training mode returns its losses by name (classification, box regression, ...)."""
    return sum(net(*batch).values())


def validator(val: list[DetectionCase], min_size_mm: float,
              detect: Callable[[torch.nn.Module, int], tuple[np.ndarray, np.ndarray]]
              ) -> Callable[[torch.nn.Module], dict[str, float]]:
    """The engine's validation: FROC and mAP of detect(net, i) on the i-th of `val`, counting lesions smaller
    than `min_size_mm` (mm) neither as targets nor as false positives."""
    truth = [truth_boxes(c) for c in val]
    ignore = smaller_than(truth, min_size_mm)

    def validate(net: torch.nn.Module) -> dict[str, float]:
        return detection_metrics([detect(net, i) for i in range(len(val))], truth, ignore=ignore)
    return validate


def load_matching(model: torch.nn.Module, path: str | Path) -> int:
    """Copy the tensors of a weights file whose names and shapes match (e.g. a COCO-trained torchvision file:
    all but the class head); returns how many were copied."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"Weights file not found: {path}.")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise ModelError(f"{path} is not a PyTorch weights file ({type(e).__name__}).") from None
    state = state.get("model", state) if isinstance(state, dict) else {}
    own = model.state_dict()
    fitting = {k: v for k, v in state.items() if k in own and getattr(v, "shape", None) == own[k].shape}
    if not fitting:
        raise ModelError(f"No tensor of {path} fits this detector: give weights of the same architecture.")
    model.load_state_dict(fitting, strict=False)
    return len(fitting)
