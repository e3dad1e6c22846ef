"""Segmentation losses from MONAI (Dice, Dice+CE) and PyTorch (cross-entropy), on logits and class maps."""
from __future__ import annotations

import torch
from monai.losses import DiceCELoss, DiceLoss

from ..errors import InputError

LOSSES = ("ce", "dice", "dicece")


class _CrossEntropy(torch.nn.Module):
    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.cross_entropy(logits, target[:, 0].long())


def build_loss(name: str) -> torch.nn.Module:
    """Loss of (logits B x C x ..., class map B x 1 x ...)."""
    name = name.lower()
    if name == "ce":
        return _CrossEntropy()
    if name == "dice":
        return DiceLoss(to_onehot_y=True, softmax=True, batch=True)
    if name == "dicece":
        return DiceCELoss(to_onehot_y=True, softmax=True, batch=True)
    raise InputError(f"Unknown loss {name!r}: use one of {', '.join(LOSSES)}.")
