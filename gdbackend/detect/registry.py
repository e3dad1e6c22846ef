"""The detection pipelines by name: the one place that picks a pipeline, by architecture name (to train) or from
a model card (to detect with a saved model). The CLI, the job runner (and so the Slicer panel) and the Python
API all go through the functions here."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ..device import choose_device
from ..errors import InputError, ModelError
from ..models.resolve import resolve_model
from ..segment.bundle import is_bundle
from ..train import TrainConfig, TrainResult, load_network
from ..volume import Volume
from .architectures import ALL_ARCHITECTURES
from .bundle.load import load_detection_bundle
from .bundle.pipeline import BUNDLE
from .data import DetectionCase
from .pipeline import TASK, DetectionPipeline
from .retina3d.pipeline import RETINA_3D
from .segmentation.pipeline import SEGMENTATION
from .slices25d.pipeline import SLICES_25D

PIPELINES: tuple[DetectionPipeline, ...] = (SLICES_25D, RETINA_3D, SEGMENTATION, BUNDLE)


def pipeline_for(architecture: str | None = None, card: dict | None = None) -> DetectionPipeline:
    """The pipeline that trains `architecture`, or that made the model of `card` (its "pipeline"; a card without
    one is a 2.5D detector's). Give exactly one of them."""
    if (architecture is None) == (card is None):
        raise TypeError("pipeline_for takes an architecture or a model card.")
    if card is not None:
        name = card.get("pipeline", SLICES_25D.name)
        found = [p for p in PIPELINES if p.name == name]
        if not found:
            raise ModelError(f"The model card names the detection pipeline {name!r}, which this gdbackend does not "
                             f"know ({', '.join(p.name for p in PIPELINES)}): update GDImaging.")
        return found[0]
    found = [p for p in PIPELINES if architecture in p.architectures]
    if not found:
        raise InputError(f"Unknown detector {architecture!r}: use one of {', '.join(ALL_ARCHITECTURES)}.")
    return found[0]


def check_options(architecture: str, **options) -> None:
    """Refuse an unknown architecture, or options of another pipeline (those not None), before any data is read."""
    pipeline_for(architecture).check_options(architecture, options)


def build_detector(architecture: str, arguments: dict) -> torch.nn.Module:
    """The detector of `architecture` with random weights, from its model card's "arguments"."""
    return pipeline_for(architecture).build(architecture, arguments)


def load_detector(path: str | Path, device: str | torch.device = "cpu",
                  trust: bool = False) -> tuple[torch.nn.Module, dict]:
    """(detector in eval mode, model card) of a file, MONAI detection bundle folder or registry name; a model of
    another task gives a ModelError. `trust` consents, once, to run a bundle's own code (gd's --trust-bundle)."""
    path = resolve_model(path, TASK)
    if is_bundle(path):
        return load_detection_bundle(path, choose_device(device), trust)
    return load_network(path, TASK, build_detector, device)


def train_detector(train: list[DetectionCase], val: list[DetectionCase], config: TrainConfig,
                   out: str | Path | None = None, *, architecture: str = "resnet50_fpn",
                   **options) -> tuple[TrainResult, dict]:
    """Train any detector by name and return (engine result, model card); `out` is the model file (.pt).
    `options` are the pipeline's training options (see DetectionPipeline.options and COMMON_OPTIONS): those
    None take the pipeline's defaults, and another pipeline's are refused."""
    pipeline = pipeline_for(architecture)
    pipeline.check_options(architecture, options)
    given = {k: v for k, v in options.items() if v is not None}
    return pipeline.train(architecture, train, val, config, out, **given)


def detect_volume(model: torch.nn.Module, card: dict, image: Volume, batch_size: int = 4,
                  report: Callable[[str], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(boxes (n, 6) LPS mm, scores (n,)), best first, by the pipeline that made the model (from its card).
    `batch_size`: slices or windows per forward pass; out of memory, fewer go through at a time, then the CPU
    takes over, which `report` hears of."""
    return pipeline_for(card=card).detect(model, card, image, batch_size, report)
