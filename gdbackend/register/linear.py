"""Linear transforms in physical space, T(x) = A (x - c) + c + t.

Parameters are scaled to millimetres: rotation, scale and shear parameters are divided by the
image radius, so one learning rate (a step length in mm) suits every parameter, as ITK's
optimizer scales do.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from .options import LINEAR


def _rotation(p: torch.Tensor, dim: int) -> torch.Tensor:
    if dim == 2:
        c, s = torch.cos(p[0]), torch.sin(p[0])
        return torch.stack([torch.stack([c, -s]), torch.stack([s, c])])
    zero = p.new_zeros(())
    skew = torch.stack([torch.stack([zero, -p[2], p[1]]),
                        torch.stack([p[2], zero, -p[0]]),
                        torch.stack([-p[1], p[0], zero])])
    return torch.linalg.matrix_exp(skew)


class LinearTransform(nn.Module):
    """A translation, rigid, similarity or affine map, starting from the homogeneous matrix `init`."""

    def __init__(self, kind: str, init: torch.Tensor, center: torch.Tensor, radius: float) -> None:
        super().__init__()
        if kind not in LINEAR:
            raise ValueError(kind)
        self.kind, self.dim, self.radius = kind, init.shape[0] - 1, float(radius)
        d = self.dim
        self.register_buffer("init", init.double())
        self.register_buffer("center", center.double())
        self.translation = nn.Parameter(torch.zeros(d, dtype=torch.float64))
        rotates = kind in ("rigid", "similarity")
        self.rotation = nn.Parameter(torch.zeros(1 if d == 2 else 3, dtype=torch.float64)) if rotates else None
        self.log_scale = nn.Parameter(torch.zeros(1, dtype=torch.float64)) if kind == "similarity" else None
        self.linear = nn.Parameter(torch.zeros(d, d, dtype=torch.float64)) if kind == "affine" else None
        bottom = torch.zeros(1, d + 1, dtype=torch.float64)
        bottom[0, -1] = 1
        self.register_buffer("_bottom", bottom)

    def update_matrix(self) -> torch.Tensor:
        """The learnt change, as a homogeneous matrix applied after `init` in fixed space (built by concatenation:
        it is rebuilt, and differentiated, every iteration)."""
        d = self.dim
        a = torch.eye(d, dtype=torch.float64, device=self.init.device)
        if self.rotation is not None:
            a = _rotation(self.rotation / self.radius, d)
        if self.log_scale is not None:
            a = a * torch.exp(self.log_scale / self.radius)
        if self.linear is not None:
            a = a + self.linear / self.radius
        shift = self.center + self.translation - a @ self.center
        return torch.cat([torch.cat([a, shift[:, None]], 1), self._bottom], 0)

    def matrix(self) -> torch.Tensor:
        """Homogeneous matrix of T: fixed physical point -> moving physical point."""
        return self.init @ self.update_matrix()


def normalised_map(model: LinearTransform, fixed_to_physical: torch.Tensor,
                   physical_to_moving: torch.Tensor) -> Callable[[], torch.Tensor]:
    """The model's current map from a fixed grid's normalised coordinates to a moving grid's, d x (d+1) float64,
    differentiable in its parameters. What does not change with them is multiplied out once.

    Args:
        model: the transform.
        fixed_to_physical: (d+1)x(d+1) fixed normalised -> physical.
        physical_to_moving: (d+1)x(d+1) physical -> moving normalised.
    """
    left = (physical_to_moving @ model.init)[:-1]
    return lambda: left @ model.update_matrix() @ fixed_to_physical


def affine_points(points: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """theta (d x (d+1)) applied to points [..., d]."""
    d = points.shape[-1]
    return torch.addmm(theta[:, -1], points.reshape(-1, d), theta[:, :-1].T).reshape(points.shape)
