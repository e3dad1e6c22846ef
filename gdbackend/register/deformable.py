"""Deformable transforms: a displacement u(x) in mm added in fixed space, T(x) = L(x + u(x)).

bspline  cubic B-spline free-form deformation; the control grid halves its spacing with each finer
         level (coefficients carried over exactly), regularised by bending energy.
dense    a displacement per voxel of the level grid, regularised by diffusion (squared gradient);
         with `diffeomorphic=True` it is a stationary velocity field integrated by scaling and squaring.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .bspline import cubic_bspline
from .pyramid import Grid


def _axis_positions(grid: Grid, finest: Grid) -> list[torch.Tensor]:
    """Millimetre positions of the grid's voxels along each fixed-image axis, from the fixed origin."""
    d = grid.dim
    rot = finest.index_to_physical[:d, :d] / torch.tensor(finest.spacing, dtype=torch.float64,
                                                           device=grid.array.device)
    offset = rot.T @ (grid.index_to_physical[:d, d] - finest.index_to_physical[:d, d])
    sizes = grid.shape[::-1]
    return [offset[a] + grid.spacing[a] * torch.arange(sizes[a], dtype=torch.float64, device=offset.device)
            for a in range(d)]


class BSplineField(nn.Module):
    def __init__(self, finest: Grid, spacing: float, weight: float) -> None:
        super().__init__()
        self.finest, self.final_spacing, self.weight, self.dim = finest, spacing, weight, finest.dim
        self.extent = [(n - 1) * s for n, s in zip(finest.shape[::-1], finest.spacing)]
        self.coef: nn.Parameter | None = None
        self.knots: list[float] = []

    def _knot_spacing(self, target: float) -> list[float]:
        return [e / max(1, math.ceil(e / target - 1e-9)) if e > 0 else target for e in self.extent]

    def _basis(self, pos: torch.Tensor, axis: int, knots: list[float]) -> torch.Tensor:
        """Weights of every control point (columns) at the given axis positions (rows)."""
        g = knots[axis]
        n_ctrl = round(self.extent[axis] / g) + 3 if self.extent[axis] > 0 else 3
        m = torch.arange(n_ctrl, dtype=torch.float64, device=pos.device)
        return cubic_bspline(pos[:, None] / g - (m[None, :] - 1)).float()

    def set_level(self, grid: Grid, shrink: float) -> None:
        knots = self._knot_spacing(self.final_spacing * shrink)
        dev = grid.array.device
        if self.coef is None or knots != self.knots:
            old, old_knots = self.coef, self.knots
            self.knots = knots
            shape = [round(e / g) + 3 if e > 0 else 3 for e, g in zip(self.extent, knots)][::-1]
            coef = torch.zeros(*shape, self.dim, device=dev)
            if old is not None:
                coef = self._refine(old.detach(), old_knots)
            self.coef = nn.Parameter(coef)
        positions = _axis_positions(grid, self.finest)
        self.bases = [self._basis(p, a, knots) for a, p in enumerate(positions)]
        reg_pos = [torch.arange(0, e + 1e-6, g / 2, dtype=torch.float64, device=dev) if e > 0
                   else torch.zeros(1, dtype=torch.float64, device=dev) for e, g in zip(self.extent, knots)]
        self.reg_bases = [self._basis(p, a, knots) for a, p in enumerate(reg_pos)]

    def _refine(self, old: torch.Tensor, old_knots: list[float]) -> torch.Tensor:
        """Exact coefficients of the same spline on the finer knot grid (least squares on dense points)."""
        coef = old
        for axis in range(self.dim):
            pos = torch.linspace(0, self.extent[axis], max(64, 8 * coef.shape[self.dim - 1 - axis]),
                                 dtype=torch.float64, device=old.device)
            b_old = self._basis(pos, axis, old_knots).double()
            b_new = self._basis(pos, axis, self.knots).double()
            r = torch.linalg.lstsq(b_new, b_old).solution.float()     # new x old
            coef = torch.movedim(torch.tensordot(r, torch.movedim(coef, self.dim - 1 - axis, 0), dims=1),
                                 0, self.dim - 1 - axis)
        return coef

    def _evaluate(self, bases: list[torch.Tensor]) -> torch.Tensor:
        u = self.coef
        for axis in range(self.dim):          # contract x, then y, then z
            u = torch.movedim(torch.tensordot(bases[axis], torch.movedim(u, self.dim - 1 - axis, 0), dims=1),
                              0, self.dim - 1 - axis)
        return u

    def displacement(self, flat: torch.Tensor | None) -> torch.Tensor:
        """u in mm on the level grid [..spatial, d], or at flat voxel indices (N, d)."""
        # the separable dense evaluation (three small matrix products) is cheaper than gathering
        # the 4^d supporting control points of a few thousand samples
        u = self._evaluate(self.bases)
        return u if flat is None else u.reshape(-1, self.dim)[flat]

    def regularization(self) -> torch.Tensor | None:
        if not self.weight:
            return None
        u = self._evaluate(self.reg_bases)
        h = [g / 2 for g in self.knots][::-1]      # spacing per array axis
        return self.weight * _bending(u, h)


def _bending(u: torch.Tensor, h: list[float]) -> torch.Tensor:
    """Mean bending energy of a field [..spatial, d] sampled with spacing h (array-axis order)."""
    d = u.dim() - 1
    total = u.new_zeros(())
    for a in range(d):
        if u.shape[a] < 3:
            continue
        second = (u.narrow(a, 2, u.shape[a] - 2) - 2 * u.narrow(a, 1, u.shape[a] - 2)
                  + u.narrow(a, 0, u.shape[a] - 2)) / h[a] ** 2
        total = total + (second ** 2).mean()
        for b in range(a + 1, d):
            if u.shape[b] < 2:
                continue
            dab = torch.diff(torch.diff(u, dim=a), dim=b) / (h[a] * h[b])
            total = total + 2 * (dab ** 2).mean()
    return total


class DenseField(nn.Module):
    """A displacement (or stationary velocity) per voxel of the current level's grid."""

    def __init__(self, finest: Grid, weight: float, diffeomorphic: bool, steps: int = 7) -> None:
        super().__init__()
        self.finest, self.weight, self.diffeomorphic, self.steps = finest, weight, diffeomorphic, steps
        self.dim = finest.dim
        self.field: nn.Parameter | None = None
        self.grid: Grid | None = None

    def set_level(self, grid: Grid, shrink: float) -> None:
        shape = (*grid.shape, self.dim)
        if self.field is None:
            new = torch.zeros(shape, device=grid.array.device)
        else:
            new = _resample_field(self.field.detach(), self.grid, grid)
        self.field = nn.Parameter(new)
        self.grid = grid

    def displacement(self, flat: torch.Tensor | None) -> torch.Tensor:
        u = _exp(self.field, self.grid, self.steps) if self.diffeomorphic else self.field
        return u if flat is None else u.reshape(-1, self.dim)[flat]

    def regularization(self) -> torch.Tensor | None:
        if not self.weight:
            return None
        h = list(self.grid.spacing)[::-1]
        total = self.field.new_zeros(())
        for a in range(self.dim):
            total = total + ((torch.diff(self.field, dim=a) / h[a]) ** 2).mean()
        return self.weight * total


def _to_normalised(u: torch.Tensor, grid: Grid) -> torch.Tensor:
    return u @ grid.physical_to_normalised[:-1, :-1].T.float()


def _sample_field(u: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
    """Field [..spatial, d] sampled at normalised coordinates [..., d] (linear, border)."""
    chans = torch.movedim(u, -1, 0)[None]
    out = F.grid_sample(chans, coords[None], mode="bilinear", padding_mode="border", align_corners=True)[0]
    return torch.movedim(out, 0, -1)


def _identity(grid: Grid) -> torch.Tensor:
    theta = torch.eye(grid.dim, grid.dim + 1, device=grid.array.device)[None]
    return F.affine_grid(theta, [1, 1, *grid.shape], align_corners=True)[0]


def _exp(v: torch.Tensor, grid: Grid, steps: int) -> torch.Tensor:
    """Scaling and squaring: displacement of exp(v), v a stationary velocity field in mm."""
    n2p = torch.linalg.inv(grid.physical_to_normalised)[:-1, :-1].float()
    ident = _identity(grid)
    un = _to_normalised(v, grid) / 2 ** steps
    for _ in range(steps):
        un = un + _sample_field(un, ident + un)
    return un @ n2p.T


def _resample_field(u: torch.Tensor, old: Grid, new: Grid) -> torch.Tensor:
    """A field from one level grid onto another (same physical positions)."""
    ident = _identity(new)
    d = new.dim
    n2p_new = torch.linalg.inv(new.physical_to_normalised)
    m = (old.physical_to_normalised @ n2p_new)[:-1].float()
    coords = ident @ m[:, :d].T + m[:, d]
    return _sample_field(u, coords)


def make_field(stage: str, finest: Grid, spacing: float, weight: float, diffeomorphic: bool) -> nn.Module:
    """The deformable stage's field.

    Args:
        stage: "bspline" or "dense".
        finest: the finest fixed level grid.
        spacing: bspline: final control point spacing in mm.
        weight: weight of the bending energy (bspline) or diffusion (dense).
        diffeomorphic: dense: a stationary velocity field.
    """
    if stage == "bspline":
        return BSplineField(finest, spacing, weight)
    return DenseField(finest, weight, diffeomorphic)
