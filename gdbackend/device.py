"""Device choice and seeding, in one place for every capability."""
from __future__ import annotations

import os
import random

import numpy as np
import torch

from .errors import InputError

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
