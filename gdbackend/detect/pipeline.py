"""The interface every detection pipeline implements: build a network from its model card's arguments, train
it on detection cases, detect lesions in a volume (boxes in LPS mm with scores) and summarise its card. The
pipelines (2.5D torchvision detectors, MONAI's 3D RetinaNet, a U-Net's lesion regions) differ in everything
between a volume and its boxes; the registry (gdbackend.detect.registry) picks one by architecture name or from
a model card, so the CLI, the job runner and the Slicer panel never tell them apart."""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ..errors import InputError
from ..train import TrainConfig, TrainResult
from ..volume import Volume
from .data import DetectionCase

TASK = "detect"   # the model-card task of every detector
# training options every pipeline takes; the others belong to some pipelines and are refused by the rest
COMMON_OPTIONS = ("spacing", "normalisation", "augment", "min_size_mm", "resume", "on_event", "cancel")


class DetectionPipeline(ABC):
    """One way from a volume to lesion boxes. Subclasses set:

    Args:
        name: the model card's "pipeline" (a card without one is a 2.5D detector's, which predate the key).
        architectures: the architecture names it trains (`gd detect train --architecture`).
        description: how it detects, completing "<architecture> ..." in error messages.
        options: the training options it takes besides COMMON_OPTIONS (keyword names of `train`).
    """

    name: str
    architectures: tuple[str, ...]
    description: str
    options: tuple[str, ...]

    @abstractmethod
    def build(self, architecture: str, arguments: dict) -> torch.nn.Module:
        """The network with random weights from the model card's "arguments"."""

    @abstractmethod
    def train(self, architecture: str, train: list[DetectionCase], val: list[DetectionCase], config: TrainConfig,
              out: str | Path | None = None, **options) -> tuple[TrainResult, dict]:
        """(engine result, model card) of `architecture` trained on `train`, validated (FROC, mAP) on `val`."""

    @abstractmethod
    def detect(self, model: torch.nn.Module, card: dict, image: Volume, batch_size: int = 4,
               report: Callable[[str], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(boxes (n, 6) LPS mm, scores (n,)), best first. `batch_size`: slices or windows per forward pass
        where the pipeline batches them; `report` hears of out-of-memory retries."""

    @abstractmethod
    def summary(self, card: dict) -> dict:
        """What a training summary shows of the model's input, from its card (slice or patch size)."""

    def check_options(self, architecture: str, options: dict) -> None:
        """Refuse another pipeline's options (those not None) before any data is read, instead of silently
        ignoring them; `options` maps training option names to values."""
        foreign = [k for k, v in options.items() if v is not None and k not in (*COMMON_OPTIONS, *self.options)]
        if foreign:
            raise InputError(f"{architecture} {self.description}: it takes {_flags(self.options)}, "
                             f"not {_flags(foreign)}.")


def _flags(names: tuple[str, ...] | list[str]) -> str:
    return ", ".join("--" + n.replace("_", "-") for n in names)
