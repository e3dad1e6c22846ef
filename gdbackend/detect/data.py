"""Detection cases: a volume with its ground truth, a label map (each connected component is one lesion)
or a list of boxes (LPS mm), read from a CSV image[,label] plus an optional CSV/JSON box list."""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..boxes import check_boxes, components, label_boxes
from ..checks import check_intensities
from ..errors import InputError
from ..segmentation_file import read_label
from ..volume import Volume
from .box_lists import read_boxes


@dataclass
class DetectionCase:
    name: str
    image: Volume
    label: Volume | None = None          # lesions > 0
    boxes: np.ndarray | None = None      # (n, 6) LPS mm


def check_3d(image: Volume, name: str = "this image") -> Volume:
    """The image, if it is 3D: every detector works on volumes."""
    if image.ndim != 3:
        raise InputError(f"Detection works on 3D volumes; {name} is {image.ndim}D.")
    return image


def checked(case: DetectionCase) -> DetectionCase:
    """The case with its ground truth checked against its image; raises before any work starts."""
    check_intensities(case.image, f"image of {case.name}")
    check_3d(case.image, f"the image of {case.name}")
    if case.label is not None:
        if not case.label.same_grid(case.image):
            raise InputError(f"{case.name}: the label map is on another grid than its image (shape "
                             f"{case.label.array.shape} vs {case.image.array.shape}, or spacing/origin/direction): "
                             "resample it onto the image first.")
    elif case.boxes is not None:
        check_boxes(case.boxes, case.image, allow_empty=True)
    else:
        raise InputError(f"{case.name}: no ground truth; give a label map or a box list.")
    return case


def checked_training(train: list[DetectionCase], val: list[DetectionCase],
                     spacing: tuple[float, ...]) -> tuple[list[DetectionCase], list[DetectionCase]]:
    """The training and validation cases checked, and the model spacing, before any training starts."""
    if not train:
        raise InputError("No training volumes: give at least one volume with lesions.")
    train, val = [checked(c) for c in train], [checked(c) for c in val]
    if not any(len(truth_boxes(c)) for c in train):
        raise InputError("The training volumes hold no lesion: give label maps or boxes with at least one lesion.")
    if len(spacing) != 3 or min(spacing) <= 0:
        raise InputError(f"The model spacing needs 3 positive values (x, y, z), got {tuple(spacing)}.")
    return train, val


def truth_boxes(case: DetectionCase) -> np.ndarray:
    """(n, 6) ground-truth boxes in LPS mm."""
    return label_boxes(case.label) if case.label is not None else np.asarray(case.boxes, float).reshape(-1, 6)


def numbered_on(case: DetectionCase, grid: Volume) -> np.ndarray:
    """Lesions numbered 1..n on `grid` (KJI): label-map components resampled, or boxes filled."""
    if case.label is not None:
        numbered = case.label.with_array(components(case.label).astype(np.uint16))
        return numbered.resample_to(grid, "nearest").array
    out = np.zeros(grid.array.shape, np.uint16)
    origin, spacing = np.asarray(grid.origin), np.asarray(grid.spacing)
    shape = np.array(grid.size)
    for n, box in enumerate(np.asarray(case.boxes).reshape(-1, 6), start=1):
        low = np.clip(np.ceil((box[:3] - origin) / spacing), 0, shape - 1).astype(int)
        high = np.clip(np.floor((box[3:] - origin) / spacing), low, shape - 1).astype(int)
        out[low[2]:high[2] + 1, low[1]:high[1] + 1, low[0]:high[0] + 1] = n
    return out


def read_cases(data: str | Path, boxes: str | Path | None = None) -> list[DetectionCase]:
    """Cases from a CSV with columns image[,label] (paths relative to the CSV); without a label column the
    ground truth comes from the box list, keyed by the CSV's image entries."""
    data = Path(data)
    if not data.is_file():
        raise InputError(f"Data list not found: {data}. Give a CSV with columns image,label.")
    with open(data, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or "image" not in rows[0]:
        raise InputError(f"{data} needs a header image[,label] and one row per volume.")
    box_list = read_boxes(boxes) if boxes else None
    cases = []
    for r in rows:
        label = (r.get("label") or "").strip()
        if box_list is not None and r["image"] not in box_list:
            raise InputError(f"{r['image']} is not in the box list {boxes}: list it (with no boxes if it has "
                             "no lesion).")
        case = DetectionCase(r["image"], Volume.read(data.parent / r["image"]),
                             read_label(data.parent / label) if label else None,
                             box_list[r["image"]] if box_list is not None else None)
        cases.append(checked(case))
    return cases
