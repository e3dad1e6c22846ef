"""The 2.5D view of a volume (DeepLesion style): the volume resampled onto an LPS-aligned grid at the
model's spacing, cut into axial slices of the model's size, each with its two neighbours as channels."""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from ...grids import covering_grid, normalised_on
from ...volume import Volume
from ..data import check_3d

TISSUE = 0.05   # normalised intensity above which a pixel is tissue rather than background


def volume_slices(volume: Volume, card: dict) -> tuple[np.ndarray, Volume]:
    """(normalised float32 KJI array, its grid): card["size"] x card["size"] pixels in plane around the volume's
    centre, every slice of its extent, at card["spacing"] (x, y, z mm)."""
    grid = covering_grid(check_3d(volume), card["spacing"], in_plane=card["size"])
    return normalised_on(volume, grid, card["normalisation"]), grid


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
