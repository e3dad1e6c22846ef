"""Device choice, seeding and the out-of-memory fallback, in one place for every capability."""
from __future__ import annotations

import logging
import os
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import numpy as np
import torch

from .errors import InputError, ResourceError

T = TypeVar("T")
_log = logging.getLogger("gdbackend")

DEVICES = ("auto", "cpu", "cuda", "mps")


def choose_device(name: str | torch.device = "auto") -> torch.device:
    """CUDA, then Apple MPS, then CPU for "auto"; a named device must be available."""
    if isinstance(name, torch.device):
        return name
    name = (name or "auto").lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    kind = name.split(":")[0]
    if kind not in DEVICES:
        raise InputError(f"Unknown device {name!r}: use one of {', '.join(DEVICES)} (or cuda:N).")
    if kind == "cuda" and not torch.cuda.is_available():
        raise InputError("CUDA was requested but no CUDA GPU is visible to PyTorch: use --device cpu or auto.")
    if kind == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise InputError("MPS was requested but is not available: use --device cpu or auto.")
    return torch.device(name)


def seed_everything(seed: int | None) -> None:
    """Seed Python, NumPy and torch so that CPU runs repeat exactly."""
    if seed is None:
        return
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    os.environ.setdefault("PYTHONHASHSEED", str(seed))


def generator(seed: int | None, device: torch.device) -> torch.Generator:
    """A torch generator on `device`, seeded when a seed is given."""
    g = torch.Generator(device=device)
    if seed is None:
        g.seed()
    else:
        g.manual_seed(seed)
    return g


@contextmanager
def model_on(model: torch.nn.Module, device: torch.device) -> Iterator[torch.nn.Module]:
    """The model moved to `device` for a fallback run, and back afterwards: the caller keeps it where it was."""
    home = next(model.parameters()).device
    moved = device.type != home.type
    if moved:
        model.to(device)
    try:
        yield model
    finally:
        if moved:
            model.to(home)


def with_memory_fallback(run: Callable[[torch.device, int], T], device: torch.device, batch: int,
                         report: Callable[[str], None] | None = None, unit: str = "window(s)") -> T:
    """run(device, batch), retried after an out-of-memory error with half the batch, then on the CPU.

    Inference on a big volume can exhaust a small GPU; a slower answer beats an error, and `report`
    tells the user why it is slower."""
    report = report or _log.warning
    size = batch
    while True:
        try:
            return run(device, size)
        except torch.OutOfMemoryError:
            if device.type == "cuda":
                torch.cuda.empty_cache()  # the failed attempt's blocks, before the retry asks again
            if size > 1:
                size = max(size // 2, 1)
                report(f"Out of {device.type} memory: retrying with {size} {unit} at a time.")
            elif device.type != "cpu":
                device, size = torch.device("cpu"), batch
                report("Out of GPU memory even one window at a time: continuing on the CPU (slower).")
            else:
                raise ResourceError("Out of memory on the CPU even one window at a time: close other programs, "
                                    "or crop or downsample the image.") from None
