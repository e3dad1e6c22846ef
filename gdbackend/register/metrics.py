"""Image similarity losses (lower is better), weighted by a validity/mask weight.

Point metrics take flat value tensors (fixed, moving, weight) so that they work equally on
random voxel samples and on whole grids; local NCC needs whole grids.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

METRICS = ("mse", "ncc", "lncc", "mi")
_EPS = 1e-8


def mse(f: torch.Tensor, m: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return ((f - m) ** 2 * w).sum() / w.sum().clamp_min(_EPS)


def ncc(f: torch.Tensor, m: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """1 - normalised cross-correlation: insensitive to linear intensity changes."""
    n = w.sum().clamp_min(_EPS)
    fc = f - (f * w).sum() / n
    mc = m - (m * w).sum() / n
    cov = (fc * mc * w).sum()
    return 1 - cov / torch.sqrt((fc * fc * w).sum() * (mc * mc * w).sum() + _EPS)


def _bspline3(d: torch.Tensor) -> torch.Tensor:
    a = d.abs()
    return torch.where(a < 1, (4 - 6 * a**2 + 3 * a**3) / 6, torch.where(a < 2, (2 - a) ** 3 / 6, torch.zeros_like(a)))


class MutualInformation:
    """Negative mutual information from a joint histogram with cubic B-spline Parzen windows (Mattes et al.).

    Intensities are mapped to bins with ranges fixed per level, so the loss is a smooth function
    of the transform; two outer bins on each side keep the 4-bin kernels inside the histogram.
    Each sample adds its 4 x 4 kernel weights to the joint histogram (index_add), so the cost is
    linear in the number of samples.
    """

    def __init__(self, fixed_range: tuple[float, float], moving_range: tuple[float, float], bins: int = 32) -> None:
        self.bins = bins
        self.fixed_range, self.moving_range = fixed_range, moving_range

    def _taps(self, v: torch.Tensor, lo: float, hi: float) -> tuple[torch.Tensor, torch.Tensor]:
        x = (v.clamp(lo, hi) - lo) / max(hi - lo, _EPS) * (self.bins - 5) + 2
        first = torch.floor(x).detach().long() - 1
        bins = first[:, None] + torch.arange(4, device=v.device)
        return bins, _bspline3(x[:, None] - bins.to(x.dtype))

    def __call__(self, f: torch.Tensor, m: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        fb, fw = self._taps(f.reshape(-1), *self.fixed_range)
        mb, mw = self._taps(m.reshape(-1), *self.moving_range)
        index = (fb[:, :, None] * self.bins + mb[:, None, :]).reshape(-1)
        weight = (fw[:, :, None] * mw[:, None, :] * w.reshape(-1, 1, 1)).reshape(-1)
        joint = torch.zeros(self.bins * self.bins, dtype=weight.dtype, device=weight.device)
        joint = joint.index_add(0, index, weight).reshape(self.bins, self.bins)
        joint = joint / joint.sum().clamp_min(_EPS)
        pf = joint.sum(1, keepdim=True)
        pm = joint.sum(0, keepdim=True)
        return -(joint * (torch.log(joint + _EPS) - torch.log(pf @ pm + _EPS))).sum()


def lncc(f: torch.Tensor, m: torch.Tensor, w: torch.Tensor, radius: int = 4) -> torch.Tensor:
    """1 - mean squared local correlation in (2r+1)^d windows (ANTs' CC); f, m, w are [1,1,...] grids."""
    dim = f.dim() - 2
    pool = F.avg_pool3d if dim == 3 else F.avg_pool2d
    radius = max(min(radius, (min(f.shape[2:]) - 1) // 2), 0)   # small images (coarse levels): smaller window
    k, pad = 2 * radius + 1, radius

    def mean(x: torch.Tensor) -> torch.Tensor:
        return pool(x, k, stride=1, padding=pad, count_include_pad=False)

    mf, mm = mean(f), mean(m)
    cross = mean(f * m) - mf * mm
    vf = (mean(f * f) - mf * mf).clamp_min(0)
    vm = (mean(m * m) - mm * mm).clamp_min(0)
    cc = cross * cross / (vf * vm + 1e-5)
    return 1 - (cc * w).sum() / w.sum().clamp_min(_EPS)
