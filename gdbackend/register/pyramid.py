"""Multi-resolution levels: Gaussian-smoothed, shrunk copies of the images as tensors with their geometry."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk
import torch

from ..volume import Volume


@dataclass
class Grid:
    """A voxel grid as tensors: `array` [1,1,(D,)H,W], index->physical and physical->normalised matrices."""
    array: torch.Tensor
    index_to_physical: torch.Tensor       # (d+1)x(d+1), index order (i, j[, k])
    physical_to_normalised: torch.Tensor  # (d+1)x(d+1), grid_sample's align_corners=True frame
    mask: torch.Tensor | None             # bool, same spatial shape, or None
    spacing: tuple[float, ...]

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.array.shape[2:])

    @property
    def dim(self) -> int:
        return self.array.dim() - 2


def shrink_schedule(levels: int) -> list[float]:
    """Shrink factors from coarse to fine: 4, 2, 1 for three levels."""
    return [2.0 ** (levels - 1 - i) for i in range(levels)]


def make_pyramid(volume: Volume, mask: Volume | None, levels: int, device: torch.device) -> list[Grid]:
    """Grids from coarse to fine. Each level is smoothed (sigma = half its spacing, as ITK's pyramids)
    and shrunk from the next finer one, so the large full-resolution image is filtered only once."""
    image = sitk.Cast(volume.to_sitk(), sitk.sitkFloat32)
    mimg = mask.to_sitk() if mask is not None else None
    grids = [_grid(image, mimg, device)]
    min_spacing = min(volume.spacing)
    for shrink in reversed(shrink_schedule(levels)[:-1]):
        target = shrink * min_spacing
        factors = [max(1, int(round(target / s))) for s in image.GetSpacing()]
        if max(factors) > 1:
            sigmas = [0.5 * f * s if f > 1 else 0.0 for f, s in zip(factors, image.GetSpacing())]
            image = sitk.Shrink(_smooth(image, sigmas), factors)
            if mimg is not None:
                mimg = sitk.Resample(mimg, image, sitk.Transform(), sitk.sitkNearestNeighbor, 0, mimg.GetPixelID())
        grids.insert(0, _grid(image, mimg, device))
    return grids


def _smooth(image: sitk.Image, sigmas: list[float]) -> sitk.Image:
    if all(s > 0 for s in sigmas):
        return sitk.SmoothingRecursiveGaussian(image, sigmas)
    for axis, sigma in enumerate(sigmas):       # only the axes being shrunk
        if sigma > 0:
            f = sitk.RecursiveGaussianImageFilter()
            f.SetSigma(sigma)
            f.SetDirection(axis)
            image = f.Execute(image)
    return image


def _grid(image: sitk.Image, mask: sitk.Image | None, device: torch.device) -> Grid:
    level = Volume.from_sitk(image)
    ip = level.index_to_physical()
    size = np.array(level.size, float)
    norm = np.eye(len(size) + 1)
    norm[:-1, :-1] = np.diag(2.0 / np.maximum(size - 1, 1))
    norm[:-1, -1] = -1.0
    arr = torch.as_tensor(np.ascontiguousarray(level.array, dtype=np.float32), device=device)[None, None]
    m = torch.as_tensor(sitk.GetArrayFromImage(mask) > 0, device=device) if mask is not None else None
    return Grid(arr, torch.as_tensor(ip, dtype=torch.float64, device=device),
                torch.as_tensor(norm @ np.linalg.inv(ip), dtype=torch.float64, device=device), m, level.spacing)
