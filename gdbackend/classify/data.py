"""Classification samples: an image (file or in-memory Volume), a class label and an optional region of
interest (a box in LPS mm or a mask), read from a CSV with columns path,label[,box][,mask] or from a folder
with one sub-folder of images per class."""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..segment.data import IMAGE_SUFFIXES
from ..volume import Volume


@dataclass
class Sample:
    image: Volume | Path
    label: str | None = None
    box: np.ndarray | None = None        # [x0, y0, (z0,) x1, y1, (z1)] LPS mm
    mask: Volume | Path | None = None

    @property
    def name(self) -> str:
        return self.image.name if isinstance(self.image, Path) else "volume"


def _box(text: str, where: str) -> np.ndarray | None:
    if not text or not text.strip():
        return None
    try:
        return np.array([float(v) for v in text.replace(",", " ").split()])
    except ValueError:
        raise InputError(f"{where}: the box {text!r} is not a list of numbers; write it as "
                         "\"x0 y0 z0 x1 y1 z1\" in LPS mm.") from None


def read_samples(path: str | Path, need_labels: bool = True) -> list[Sample]:
    """Rows of a CSV: path (or image), label, optional box ("x0 y0 z0 x1 y1 z1") and mask; relative paths
    are relative to the CSV's folder. A folder instead holds one sub-folder of images per class."""
    path = Path(path)
    if path.is_dir():
        return folder_samples(path)
    if not path.is_file():
        raise InputError(f"Data list not found: {path}. Give a CSV with columns path,label, or a folder with one "
                         "sub-folder of images per class.")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    column = "path" if rows and "path" in rows[0] else "image"
    if not rows or column not in rows[0] or (need_labels and "label" not in rows[0]):
        raise InputError(f"{path} needs a header path,label (optional columns box, mask) and one row per sample.")
    samples = []
    for n, r in enumerate(rows, start=2):
        label = (r.get("label") or "").strip() or None
        if need_labels and label is None:
            raise InputError(f"{path} line {n}: no label; every training or evaluation sample needs one.")
        mask = (r.get("mask") or "").strip()
        samples.append(Sample(path.parent / r[column].strip(), label, _box(r.get("box", ""), f"{path} line {n}"),
                              path.parent / mask if mask else None))
    return samples


def split_samples(samples: list[Sample], fraction: float, seed: int | None = 0) -> tuple[list[Sample], list[Sample]]:
    """A stratified split: `fraction` of each class goes to validation."""
    if not 0 <= fraction < 1:
        raise InputError(f"The validation fraction must be in [0, 1), got {fraction}.")
    rng = np.random.default_rng(seed)
    val_idx: set[int] = set()
    for label in sorted({s.label for s in samples}):
        idx = [i for i, s in enumerate(samples) if s.label == label]
        val_idx |= set(rng.permutation(idx)[:int(round(fraction * len(idx)))].tolist())
    return [s for i, s in enumerate(samples) if i not in val_idx], [s for i, s in enumerate(samples) if i in val_idx]


def folder_samples(folder: Path) -> list[Sample]:
    """Whole images labelled by the sub-folder that holds them (torchvision's ImageFolder layout), which is
    how most image collections are sorted by hand."""
    samples = [Sample(p, d.name) for d in sorted(folder.iterdir()) if d.is_dir() for p in sorted(d.iterdir())
               if p.is_file() and p.name.lower().endswith(IMAGE_SUFFIXES)]
    if not samples:
        raise InputError(f"{folder} has no images in class sub-folders: put each class's images in a sub-folder "
                         f"named after the class (e.g. {folder / 'present' / 'case1.nii.gz'}), or give a CSV "
                         "with columns path,label.")
    return samples


def class_names(samples: list[Sample], classes: list[str] | None = None) -> list[str]:
    """The class list (index = network output): given, or the sorted labels of the training samples; every
    class must have training samples, and every label must be a class."""
    labels = [s.label for s in samples]
    if None in labels:
        raise InputError("A training sample has no label: every training sample needs one.")

    def numeric(v: str) -> bool:
        return v.lstrip("-").isdigit()

    found = sorted(set(labels), key=lambda v: (not numeric(v), int(v) if numeric(v) else 0, v))
    classes = list(classes) if classes else found
    unknown = sorted(set(labels) - set(classes))
    if unknown:
        raise InputError(f"Label(s) {', '.join(unknown)} are not among the classes {', '.join(classes)}: "
                         "add them to --classes or fix the data.")
    missing = [c for c in classes if c not in set(labels)]
    if missing:
        raise InputError(f"Class(es) {', '.join(missing)} have no training samples: add samples of every class, "
                         "or leave the class out.")
    if len(classes) < 2:
        raise InputError(f"Only one class ({classes[0]}) in the training data: a classifier needs at least two.")
    return classes


def load(value: Volume | Path | None) -> Volume | None:
    return Volume.read(value) if isinstance(value, Path) else value
