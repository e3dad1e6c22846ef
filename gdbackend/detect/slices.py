"""The 2.5D view of a volume (DeepLesion style): the volume resampled onto an LPS-aligned grid at the
model's spacing, cut into axial slices of the model's size, each with its two neighbours as channels."""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..checks import check_intensities
from ..errors import InputError
from ..volume import Volume
from ..segment.preprocess import normaliser
from .boxes import centred_grid, image_box

TISSUE = 0.05   # normalised intensity above which a pixel is tissue rather than background


def normalised(image: Volume, normalisation: str) -> Volume:
    """The whole image normalised once, so that a region keeps its intensity relative to the whole scan."""
    check_intensities(image)
    array = np.asarray(normaliser(normalisation)(image.array.astype(np.float32)[None]))[0]
    return image.with_array(array.astype(np.float32))


def slice_grid(volume: Volume, spacing: tuple[float, ...], size: int) -> Volume:
    """size x size pixels in plane around the volume's centre, every slice of its extent at spacing[2]."""
    if volume.ndim != 3:
        raise InputError(f"Detection works on 3D volumes; this image is {volume.ndim}D.")
    extent = image_box(volume)
    spacing = np.asarray(spacing, float)
    depth = max(int(np.ceil((extent[5] - extent[2]) / spacing[2] - 1e-6)), 1)
    return centred_grid((extent[:3] + extent[3:]) / 2, (size, size, depth), spacing)


def volume_slices(volume: Volume, card: dict) -> tuple[np.ndarray, Volume]:
    """(normalised float32 KJI array on the slice grid, that grid)."""
    grid = slice_grid(volume, card["spacing"], card["size"])
    return normalised(volume, card["normalisation"]).resample_to(grid, "linear").array.astype(np.float32), grid


def stack(array: np.ndarray, k: int) -> np.ndarray:
    """(3, H, W): slices k-1, k, k+1 (the edge slice repeated at the ends)."""
    ks = np.clip([k - 1, k, k + 1], 0, len(array) - 1)
    return array[ks]


def slice_boxes(numbered: np.ndarray, k: int) -> np.ndarray:
    """(n, 4) pixel boxes [x0, y0, x1, y1] (torchvision's convention: pixel i spans [i, i+1)) of the
    lesions cut by slice k of a numbered component map."""
    found = [s for s in ndimage.find_objects(numbered[k]) if s is not None]
    return np.array([[s[1].start, s[0].start, s[1].stop, s[0].stop] for s in found], np.float32).reshape(-1, 4)


def foreground_slices(array: np.ndarray, threshold: float = TISSUE) -> np.ndarray:
    """Indices of slices with any tissue: empty slices are skipped at inference."""
    return np.flatnonzero((array > threshold).reshape(len(array), -1).mean(1) > 0.01)
