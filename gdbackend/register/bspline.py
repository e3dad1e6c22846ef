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


def cubic_bspline_taps(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The four knots k = floor(x) - 1 ... floor(x) + 2 whose kernels cover each x, and B3(x - k): the same
    kernel as `cubic_bspline`, written on the fractional part of x so that one pass gives all four weights (a
    quarter of the work of evaluating the kernel at each knot). Differentiable in x.

    Args:
        x: positions in units of the knot (or bin) spacing, shape (N,).

    Returns:
        the first knot (N,) as integers, and the weights (N, 4) of it and the next three.
    """
    floor = torch.floor(x.detach())
    u = x - floor
    v = 1 - u
    u2 = u * u
    u3 = u2 * u
    weights = torch.stack([v * v * v, 3 * u3 - 6 * u2 + 4, 3 * (u + u2 - u3) + 1, u3], 1) / 6
    return floor.long() - 1, weights
