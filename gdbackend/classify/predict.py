"""Apply a classifier: samples to network inputs (each image read and normalised once), then softmax
probabilities per class."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..device import model_on, with_memory_fallback
from ..errors import InputError
from ..grids import normalised
from ..models.resolve import resolve_model
from ..train import load_network
from .data import Sample, load
from .networks import build_network
from .roi import roi_input

TASK = "classify"


def prepare_inputs(samples: list[Sample], card: dict,
                   progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """(N, 1, *size) inputs; every region is checked before the next image is read."""
    cache: dict[int | Path, object] = {}
    out = []
    for n, s in enumerate(samples):
        key = s.image if isinstance(s.image, Path) else id(s.image)
        if key not in cache:
            cache.clear()   # samples of one image are usually listed together: keep one image in memory
            cache[key] = normalised(load(s.image), card["normalisation"])
        try:
            out.append(roi_input(cache[key], card, s.box, load(s.mask), prenormalised=True))
        except InputError as e:
            raise InputError(f"Sample {n + 1} ({s.name}): {e}") from None
        if progress:
            progress(n + 1, len(samples))
    return np.stack(out)


def load_classifier(path: str | Path, device: str | torch.device = "cpu") -> tuple[torch.nn.Module, dict]:
    """(network in eval mode, model card) of a file or registry name; a model of another task gives a ModelError."""
    return load_network(resolve_model(path, TASK), TASK, build_network, device)


@torch.no_grad()
def predict_probabilities(model: torch.nn.Module, inputs: np.ndarray, batch_size: int = 16,
                          report: Callable[[str], None] | None = None) -> np.ndarray:
    """(N, C) softmax probabilities of (N, 1, *size) inputs; out of memory, fewer at a time, then on the CPU."""
    was_training = model.training
    model.eval()

    def run(on: torch.device, batch: int) -> np.ndarray:
        with model_on(model, on):
            out = [torch.softmax(model(torch.as_tensor(inputs[i:i + batch], device=on)), 1).cpu()
                   for i in range(0, len(inputs), batch)]
        return torch.cat(out).numpy()

    try:
        return with_memory_fallback(run, next(model.parameters()).device, batch_size, report, "patch(es)")
    finally:
        model.train(was_training)
