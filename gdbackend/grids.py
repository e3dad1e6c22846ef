"""Model grids: LPS-aligned grids at a model's spacing around a region or covering a whole image, and the
image normalised once and resampled onto one. Shared by detection and classification."""
from __future__ import annotations

import numpy as np

from .boxes import image_box
from .checks import check_intensities
from .segment.preprocess import normaliser
from .volume import Volume


def centred_grid(center: np.ndarray, size: tuple[int, ...], spacing: np.ndarray) -> Volume:
    """An empty LPS-aligned grid of `size` voxels (x, y[, z]) at `spacing` (mm) whose centre is `center` (LPS mm)."""
    size, spacing = np.asarray(size), np.asarray(spacing, float)
    origin = np.asarray(center, float) - spacing * (size - 1) / 2
    return Volume(np.zeros(size[::-1], np.uint8), tuple(spacing), tuple(origin))


def covering_grid(volume: Volume, spacing: tuple[float, ...], in_plane: int | None = None) -> Volume:
    """An empty LPS-aligned grid at `spacing` (x, y[, z] mm) centred on `volume` that covers its whole extent;
    with `in_plane`, that many voxels along x and y instead (2.5D slices of a fixed size)."""
    d = volume.ndim
    extent = image_box(volume)
    spacing = np.asarray(spacing, float)
    size = np.maximum(np.ceil((extent[d:] - extent[:d]) / spacing - 1e-6), 1).astype(int)
    if in_plane is not None:
        size[:2] = in_plane
    return centred_grid((extent[:d] + extent[d:]) / 2, tuple(size), spacing)


def normalised(image: Volume, normalisation: str) -> Volume:
    """The whole image normalised once, so that a region keeps its intensity relative to the whole scan."""
    check_intensities(image)
    array = np.asarray(normaliser(normalisation)(image.array.astype(np.float32)[None]))[0]
    return image.with_array(array.astype(np.float32))


def normalised_on(image: Volume, grid: Volume, normalisation: str) -> np.ndarray:
    """The normalised image resampled (linear) onto `grid`: a float32 KJI array of the grid's shape."""
    return normalised(image, normalisation).resample_to(grid, "linear").array.astype(np.float32)
