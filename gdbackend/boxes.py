"""Boxes in physical space: [x0, y0, z0, x1, y1, z1] in LPS millimetres (MONAI's "xyzxyz" mode), from voxel
masks and label maps, checked against an image, and to and from the continuous voxel boxes of an LPS-aligned
model grid. Shared by detection, classification and the lesion generator, so that none imports another."""
from __future__ import annotations

import itertools

import numpy as np
from scipy import ndimage

from .errors import InputError
from .volume import Volume

COLUMNS = ("x0", "y0", "z0", "x1", "y1", "z1")


def index_box(volume: Volume, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Physical box around voxels low..high (inclusive, (i, j, k) order): the voxels' outer faces."""
    m = volume.index_to_physical()
    d = volume.ndim
    corners = np.array([m @ np.array([*c, 1.0]) for c in itertools.product(*zip(low - 0.5, high + 0.5))])[:, :d]
    return np.concatenate([corners.min(0), corners.max(0)])


def mask_box(volume: Volume, mask: np.ndarray) -> np.ndarray:
    """Physical box of the non-zero voxels of a KJI mask on `volume`'s grid."""
    kji = np.argwhere(mask)
    if not len(kji):
        raise InputError("The mask is empty: a box needs at least one voxel > 0.")
    return index_box(volume, kji.min(0)[::-1].astype(float), kji.max(0)[::-1].astype(float))


def components(label: Volume) -> np.ndarray:
    """Each connected component of label > 0 numbered 1..n (26-connectivity), as a KJI array."""
    numbered, _ = ndimage.label(label.array > 0, structure=np.ones((3,) * label.ndim))
    return numbered


def label_boxes(label: Volume) -> np.ndarray:
    """(n, 6) boxes of the connected components of a label map (each component is one lesion)."""
    numbered = components(label)
    slices = ndimage.find_objects(numbered)
    boxes = [index_box(label, np.array([s.start for s in sl[::-1]], float),
                       np.array([s.stop - 1 for s in sl[::-1]], float))
             for sl in slices if sl is not None]
    return np.array(boxes, float).reshape(-1, 2 * label.ndim)


def image_box(volume: Volume) -> np.ndarray:
    """The physical box the whole image covers."""
    return index_box(volume, np.zeros(volume.ndim), np.array(volume.size, float) - 1)


def check_boxes(boxes: np.ndarray, volume: Volume, name: str = "box", allow_empty: bool = False) -> np.ndarray:
    """(n, 2d) boxes with low < high that lie inside the image (half a voxel of slack)."""
    d = volume.ndim
    boxes = np.asarray(boxes, float)
    if boxes.ndim == 1:
        boxes = boxes[None]
    if boxes.size == 0 or boxes.shape[-1] != 2 * d:
        if boxes.size == 0 and allow_empty:
            return boxes.reshape(0, 2 * d)
        raise InputError(f"Expected {d}D {name}es as {2 * d} numbers each ({', '.join(COLUMNS[:d] + COLUMNS[3:3 + d])} "
                         f"in LPS mm), got {boxes.shape[-1] if boxes.size else 'no'} values: give at least one box.")
    if not np.all(boxes[:, d:] > boxes[:, :d]):
        raise InputError(f"A {name} has a low corner that is not below its high corner: {boxes.tolist()[0]}; "
                         "give x0 < x1, y0 < y1, z0 < z1.")
    extent = image_box(volume)
    slack = np.asarray(volume.spacing) / 2
    outside = np.any(boxes[:, :d] < extent[:d] - slack, 1) | np.any(boxes[:, d:] > extent[d:] + slack, 1)
    if outside.any():
        bad = boxes[np.argmax(outside)].round(1).tolist()
        raise InputError(f"The {name} {bad} (LPS mm) lies outside the image, which covers "
                         f"{extent.round(1).tolist()}: give boxes in the image's physical (LPS) coordinates.")
    return boxes


def to_physical(boxes: np.ndarray, grid: Volume) -> np.ndarray:
    """Continuous (x, y, z) voxel boxes (n, 6) of an LPS-aligned grid (voxel i spans [i, i+1)) to LPS mm."""
    origin, spacing = np.asarray(grid.origin), np.asarray(grid.spacing)
    return np.concatenate([origin + spacing * (boxes[:, :3] - 0.5), origin + spacing * (boxes[:, 3:] - 0.5)], 1)


def to_voxels(boxes: np.ndarray, grid: Volume) -> np.ndarray:
    """LPS mm boxes (n, 6) to continuous (x, y, z) voxel boxes of an LPS-aligned grid: the inverse of
    to_physical."""
    origin, spacing = np.tile(np.asarray(grid.origin), 2), np.tile(np.asarray(grid.spacing), 2)
    return (np.asarray(boxes, float).reshape(-1, 6) - origin) / spacing + 0.5
