"""Optimisers and learning-rate schedules, named as the field names them.

`gd` is full-batch gradient descent (one step per epoch over every training sample, accumulated
in micro-batches so memory stays bounded), `sgd` is stochastic gradient descent with batch size 1,
`minibatch` is mini-batch SGD with momentum (optionally Nesterov), `adam` and `adamw` as usual.
"""
from __future__ import annotations

import math

import torch

from ..errors import InputError
from .options import OPTIMIZERS, SCHEDULES


def build_optimizer(name: str, params, lr: float, momentum: float = 0.9, nesterov: bool = False,
                    weight_decay: float = 0.0) -> torch.optim.Optimizer:
    name = name.lower()
    if name not in OPTIMIZERS:
        raise InputError(f"Unknown optimizer {name!r}: use one of {', '.join(OPTIMIZERS)}.")
    if not lr > 0:
        raise InputError(f"The learning rate must be positive, got {lr}.")
    if name in ("gd", "sgd"):
        return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay)
    if name == "minibatch":
        if nesterov and momentum <= 0:
            raise InputError("Nesterov needs a momentum > 0: set --momentum (e.g. 0.9) or drop --nesterov.")
        return torch.optim.SGD(params, lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay)
    params = list(params)
    cls = torch.optim.Adam if name == "adam" else torch.optim.AdamW
    # the fused kernel updates every tensor in one pass, which torch never picks by itself (per-tensor loop on a
    # CPU, foreach on CUDA): 0.03 s a step against 0.17 s and 0.12 s for Faster R-CNN ResNet-50's 41 M weights
    fused = all(p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in params)
    return cls(params, lr=lr, weight_decay=weight_decay, fused=fused or None)


def micro_batch_size(optimizer: str, batch_size: int) -> int:
    """Samples per forward pass: plain SGD always sees one sample at a time."""
    if batch_size < 1:
        raise InputError(f"The batch size must be at least 1, got {batch_size}.")
    return 1 if optimizer.lower() == "sgd" else batch_size


def build_schedule(name: str, optimizer: torch.optim.Optimizer, total_steps: int, warmup_steps: int = 0,
                   step_every: int = 0, gamma: float = 0.1) -> torch.optim.lr_scheduler.LambdaLR:
    """A per-optimiser-step schedule: linear warm-up, then constant, cosine to zero, or step decay."""
    name = name.lower()
    if name not in SCHEDULES:
        raise InputError(f"Unknown schedule {name!r}: use one of {', '.join(SCHEDULES)}.")
    total_steps, warmup_steps = max(int(total_steps), 1), max(int(warmup_steps), 0)

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / (warmup_steps + 1)
        if name == "cosine":
            t = (step - warmup_steps) / max(total_steps - warmup_steps, 1)
            return 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))
        if name == "step" and step_every > 0:
            return gamma ** ((step - warmup_steps) // step_every)
        return 1.0

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
