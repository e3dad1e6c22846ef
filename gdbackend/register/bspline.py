"""The cubic B-spline kernel, shared by the B-spline transform and the mutual-information Parzen windows."""
from __future__ import annotations

import torch


def cubic_bspline(t: torch.Tensor) -> torch.Tensor:
    """B3(t): the cubic B-spline centred on 0, support (-2, 2), partition of unity on integer shifts.

    Args:
        t: positions in units of the knot (or bin) spacing, any shape.
    """
    a = t.abs()
    return torch.where(a < 1, (4 - 6 * a**2 + 3 * a**3) / 6, torch.where(a < 2, (2 - a) ** 3 / 6, torch.zeros_like(a)))
