"""Boxes in physical space: [x0, y0, z0, x1, y1, z1] in LPS millimetres (MONAI's "xyzxyz" mode), from voxel
masks and label maps, checked against an image, and read from / written to CSV or JSON box lists."""
from __future__ import annotations

import csv
import itertools
import json
from pathlib import Path

import numpy as np
from scipy import ndimage

from ..errors import InputError
from ..volume import Volume, write_atomic

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
    boxes = [index_box(label, np.array([s.start for s in sl[::-1]], float), np.array([s.stop - 1 for s in sl[::-1]], float))
             for sl in slices if sl is not None]
    return np.array(boxes, float).reshape(-1, 2 * label.ndim)


def centred_grid(center: np.ndarray, size: tuple[int, ...], spacing: np.ndarray) -> Volume:
    """An empty LPS-aligned grid of `size` voxels (x, y[, z]) at `spacing` whose centre is `center`."""
    size, spacing = np.asarray(size), np.asarray(spacing, float)
    origin = np.asarray(center, float) - spacing * (size - 1) / 2
    return Volume(np.zeros(size[::-1], np.uint8), tuple(spacing), tuple(origin))


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


def read_boxes(path: str | Path) -> dict[str, np.ndarray]:
    """Ground-truth boxes per image from a CSV (columns image,x0,y0,z0,x1,y1,z1) or a JSON
    {"image": [[x0, y0, z0, x1, y1, z1], ...]}; an image may be listed with no boxes (JSON: [])."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"Box list not found: {path}.")
    if path.suffix.lower() == ".json":
        data = json.loads(path.read_text())
        if not isinstance(data, dict):
            raise InputError(f"{path} must hold an object mapping image names to lists of boxes.")
        out = {str(k): np.array([b["box"] if isinstance(b, dict) else b for b in v], float).reshape(-1, 6)
               for k, v in data.items()}
    else:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        if not rows or not {"image", *COLUMNS} <= set(rows[0]):
            raise InputError(f"{path} needs a header image,{','.join(COLUMNS)} and one row per box.")
        out: dict[str, list] = {}
        for r in rows:
            out.setdefault(r["image"], [])
            if all(r[c] not in ("", None) for c in COLUMNS):
                out[r["image"]].append([float(r[c]) for c in COLUMNS])
        out = {k: np.array(v, float).reshape(-1, 6) for k, v in out.items()}
    if not sum(len(v) for v in out.values()):
        raise InputError(f"The box list {path} holds no boxes: give at least one box (x0 y0 z0 x1 y1 z1, LPS mm).")
    return out


def write_boxes(path: str | Path, boxes: dict[str, tuple[np.ndarray, np.ndarray]]) -> Path:
    """Write {image: (boxes (n, 6), scores (n,))} as JSON (.json) or CSV (anything else)."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        data = {k: [{"box": [round(float(v), 3) for v in b], "score": round(float(s), 5)} for b, s in zip(bx, sc)]
                for k, (bx, sc) in boxes.items()}
        return write_atomic(path, lambda tmp: tmp.write_text(json.dumps(data, indent=1)))
    lines = [",".join(("image", *COLUMNS, "score"))]
    lines += [",".join([k, *(f"{v:.3f}" for v in b), f"{s:.5f}"]) for k, (bx, sc) in boxes.items() for b, s in zip(bx, sc)]
    return write_atomic(path, lambda tmp: tmp.write_text("\n".join(lines) + "\n"))
