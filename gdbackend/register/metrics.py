"""Image similarity losses (lower is better), weighted by a validity/mask weight, behind one call:
`metric(fixed, moving, weight)` on tensors of one shape, either random samples [1, 1, (1,) N] or whole level
grids [1, 1, (D,) H, W]. Point metrics sum over whatever they get; local NCC needs whole grids
(`whole_grid`), so the engine gives it every voxel."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .bspline import cubic_bspline_taps
from .pyramid import Grid

_EPS = 1e-8
# mutual information's bins per image: coarse levels keep a smooth metric that finds the basin, the finest level
# resolves intensities finely enough for precision. Mean TRE over 3 seeds, 32 bins everywhere -> 32 coarse and 64
# finest: Colin27 0.045 -> 0.024 mm, macaque 0.045 -> 0.021, CT slice 0.082 -> 0.034, ITK's T1 0.028 -> 0.031, case C
# 0.012 -> 0.010 px (SimpleITK's Mattes: 0.016, 0.021, 3.9, 0.150 mm). 64 on every level lost ITK's T1 (one seed
# 1.2 mm); 96 on the finest lost it by half (0.054 mm)
MI_BINS_COARSE, MI_BINS_FINEST = 32, 64
# the bins span the 1st to 99th percentile of each level's intensities (beyond, they clamp to the end bins): the
# noise tails and a few bright voxels no longer take bins from the tissue. Mean TRE over 3 seeds, min-max -> 1-99 %:
# Colin27 0.024 -> 0.017 mm (SimpleITK 0.016), macaque 0.021 -> 0.017, ITK's T1 0.035 -> 0.033, CT slice 0.038 ->
# 0.029; case C the same (0.012 px over 5 seeds). 0.5-99.5 % (every voxel read): 0.020, -, 0.036, 0.030
MI_RANGE_QUANTILE = 0.01
MI_RANGE_POINTS = 2**20    # the percentiles are read on at most this many voxels (every k-th), deterministically


class Metric:
    """A similarity loss. Args of a call: fixed and moving intensities and a weight (0 outside the moving image
    or the masks), all of one shape."""
    whole_grid = False          # True: needs whole grids, not random samples

    def __call__(self, f: torch.Tensor, m: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class MeanSquares(Metric):
    def __call__(self, f: torch.Tensor, m: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return ((f - m) ** 2 * w).sum() / w.sum().clamp_min(_EPS)


class Correlation(Metric):
    """1 - normalised cross-correlation: insensitive to linear intensity changes."""

    def __call__(self, f: torch.Tensor, m: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        n = w.sum().clamp_min(_EPS)
        fc = f - (f * w).sum() / n
        mc = m - (m * w).sum() / n
        cov = (fc * mc * w).sum()
        return 1 - cov / torch.sqrt((fc * fc * w).sum() * (mc * mc * w).sum() + _EPS)


class LocalCorrelation(Metric):
    """1 - mean squared local correlation in (2r+1)^d windows (ANTs' CC).

    Args:
        radius: window half-width in voxels of the level (smaller on levels too small for it).
    """
    whole_grid = True

    def __init__(self, radius: int = 4) -> None:
        self.radius = radius

    def __call__(self, f: torch.Tensor, m: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        pool = F.avg_pool3d if f.dim() == 5 else F.avg_pool2d
        radius = max(min(self.radius, (min(f.shape[2:]) - 1) // 2), 0)
        k, pad = 2 * radius + 1, radius

        def mean(x: torch.Tensor) -> torch.Tensor:
            return pool(x, k, stride=1, padding=pad, count_include_pad=False)

        mf, mm = mean(f), mean(m)
        cross = mean(f * m) - mf * mm
        vf = (mean(f * f) - mf * mf).clamp_min(0)
        vm = (mean(m * m) - mm * mm).clamp_min(0)
        cc = cross * cross / (vf * vm + 1e-5)
        return 1 - (cc * w).sum() / w.sum().clamp_min(_EPS)


class MutualInformation(Metric):
    """Negative mutual information from a joint histogram with cubic B-spline Parzen windows (Mattes et al.).

    Intensities are mapped to bins with ranges fixed per level (their 1st to 99th percentiles), so the loss is a
    smooth function of the transform; two outer bins on each side keep the 4-bin kernels inside the histogram.
    Each sample adds its 4 x 4 kernel weights to the joint histogram (index_add), so the cost is
    linear in the number of samples.

    Args:
        fixed_range: (lowest, highest) fixed intensity of the level, mapped onto the bins.
        moving_range: the same for the moving image.
        bins: histogram bins per image.
    """

    def __init__(self, fixed_range: tuple[float, float], moving_range: tuple[float, float], bins: int) -> None:
        self.bins = bins
        self.fixed_range, self.moving_range = fixed_range, moving_range

    def _taps(self, v: torch.Tensor, lo: float, hi: float) -> tuple[torch.Tensor, torch.Tensor]:
        first, weights = cubic_bspline_taps((v.clamp(lo, hi) - lo) / max(hi - lo, _EPS) * (self.bins - 5) + 2)
        return first[:, None] + torch.arange(4, device=v.device), weights

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

    @classmethod
    def for_level(cls, fixed: Grid, moving: Grid, bins: int) -> MutualInformation:
        """`bins` spanning the (masked) intensities of this level's images."""
        return cls(intensity_span(fixed), intensity_span(moving), bins)


def intensity_span(grid: Grid) -> tuple[float, float]:
    """The MI_RANGE_QUANTILE and 1 - MI_RANGE_QUANTILE quantiles of a level's (masked) intensities; its lowest and
    highest where those meet (an image almost all of one value, such as a small object on an empty field)."""
    a = (grid.array[0, 0][grid.mask] if grid.mask is not None else grid.array).reshape(-1)
    step = -(-a.numel() // MI_RANGE_POINTS)
    q = torch.tensor([MI_RANGE_QUANTILE, 1 - MI_RANGE_QUANTILE], device=a.device)
    lo, hi = torch.quantile(a[::step].float(), q).tolist()
    return (lo, hi) if hi > lo else (float(a.min()), float(a.max()))


def make_metric(name: str, fixed: Grid, moving: Grid, finest: bool) -> Metric:
    """The metric `name` (one of options.METRICS) for one level's images; `finest`: the last level."""
    if name == "mi":
        return MutualInformation.for_level(fixed, moving, MI_BINS_FINEST if finest else MI_BINS_COARSE)
    return {"mse": MeanSquares, "ncc": Correlation, "lncc": LocalCorrelation}[name]()
