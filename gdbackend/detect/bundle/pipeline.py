"""MONAI detection bundles behind the detection interface: loaded from their folder (load.py), never built from
a card's arguments nor trained here; detection runs the bundle's own pipeline (run.py)."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ...errors import InputError, ModelError
from ...train import TrainConfig, TrainResult
from ...volume import Volume
from ..data import DetectionCase
from ..pipeline import DetectionPipeline
from .load import PIPELINE


class BundlePipeline(DetectionPipeline):
    name = PIPELINE
    architectures = ()  # nothing to train: `gd detect train --architecture` never picks it
    description = "runs a MONAI bundle as its config says"
    options = ()

    def build(self, architecture: str, arguments: dict) -> torch.nn.Module:
        raise ModelError("A MONAI bundle's detector is built from its folder: load it with load_detector(folder).")

    def train(self, architecture: str, train: list[DetectionCase], val: list[DetectionCase], config: TrainConfig,
              out: str | Path | None = None, **options) -> tuple[TrainResult, dict]:
        raise InputError("GDImaging does not train MONAI bundles: train retinanet3d (gd detect train), or the "
                         "bundle with its own configs/train.json in MONAI.")

    def detect(self, model: torch.nn.Module, card: dict, image: Volume, batch_size: int = 4,
               report: Callable[[str], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The bundle's boxes and scores; its windows per network call are its own (`batch_size` is not used)."""
        boxes, scores, _ = model.detect(image, report)
        return boxes, scores

    def summary(self, card: dict) -> dict:
        return {"patch_size": card["patch_size"]}


BUNDLE = BundlePipeline()
