"""The starting rotation. Gradient descent on a linear stage finds the rotation only from within about 90 deg of it:
ITK's PD slice turned 120 deg ended 113 mm off, and so did Colin27 turned 120 deg (83 mm) or 180 deg (95 mm). So the
first stage that rotates starts from the best of a few rotations about the centre, `SEARCH_STEP_DEG` apart, well
inside that capture range: the turns that match best on the whole coarsest level are shortlisted, each shortlisted
start (the unturned one too) gets a short rigid descent there, and the one that ends best wins (ANTs' antsAI
searches the starting rotation in the same way)."""
from __future__ import annotations

import numpy as np
import torch

from .linear import affine_points
from .metrics import Metric
from .options import SEARCH_STEP_DEG
from .sampling import Level

# starts that get a short descent besides the unturned one, and its iterations (on the coarsest level)
SEARCH_KEEP, SEARCH_ITERATIONS = 3, 30


def _about_axis(dim: int, axis: int, degrees: float) -> np.ndarray:
    """A rotation matrix: in 2D the in-plane one, in 3D about x, y or z (`axis` 0, 1, 2)."""
    c, s = np.cos(np.radians(degrees)), np.sin(np.radians(degrees))
    if dim == 2:
        return np.array([[c, -s], [s, c]])
    i, j = [a for a in range(3) if a != axis]
    r = np.eye(3)
    r[i, i], r[i, j], r[j, i], r[j, j] = c, -s, s, c
    return r


def candidate_rotations(dim: int, half_width: float) -> list[np.ndarray]:
    """Rotations by multiples of SEARCH_STEP_DEG up to `half_width` either way (about each axis in 3D; 180 deg
    counted once), the identity not among them.

    Args:
        dim: 2 or 3.
        half_width: largest rotation tried, in degrees.
    """
    steps = int(min(half_width, 180.0) // SEARCH_STEP_DEG)
    angles = [sign * k * SEARCH_STEP_DEG for k in range(1, steps + 1) for sign in (1, -1)]
    angles = [a for a in angles if a > -180.0]
    axes = [0] if dim == 2 else [0, 1, 2]
    return [_about_axis(dim, axis, a) for axis in axes for a in angles]


def turned(start: torch.Tensor, center: torch.Tensor, rotation: np.ndarray) -> torch.Tensor:
    """`start` ((d+1)x(d+1), fixed physical -> moving physical) after first turning fixed space by `rotation`
    (d x d) about `center` (d,) in mm."""
    turn = torch.eye(start.shape[0], dtype=torch.float64, device=start.device)
    turn[:-1, :-1] = torch.as_tensor(rotation, dtype=torch.float64, device=start.device)
    turn[:-1, -1] = center - turn[:-1, :-1] @ center
    return start @ turn


@torch.no_grad()
def whole_grid_loss(level: Level, metric: Metric, matrix: torch.Tensor) -> float:
    """The metric of `matrix` (fixed physical -> moving physical) on the level's whole grid."""
    theta = (level.moving.physical_to_normalised @ matrix @ level.normalised_to_physical)[:-1].float()
    return float(metric(*level.values(affine_points(level.normalised_points(None), theta), None)))


def shortlist(level: Level, metric: Metric, start: torch.Tensor, center: torch.Tensor,
              rotations: list[np.ndarray], keep: int) -> list[torch.Tensor]:
    """`start` and the `keep` turned starts that match best on the level's whole grid, best first: the ones worth
    a short descent each (before one, the right rotation need not match best: a head slice turned 180 deg from
    the answer matched better than at the right angle, before the translation was found).

    Args:
        level: the coarsest level, sampled on its whole grid.
        metric: the stage's metric for that level.
        start: the matrix the stage would start from, (d+1)x(d+1).
        center: the centre of rotation in fixed physical space (mm), (d,).
        rotations: d x d rotation matrices to try.
        keep: how many turned starts to return besides `start`.
    """
    turns = [turned(start, center, r) for r in rotations]
    losses = [whole_grid_loss(level, metric, m) for m in turns]
    order = sorted(range(len(turns)), key=losses.__getitem__)
    return [start] + [turns[i] for i in order[:keep]]
