"""Lesion present / absent on 3D patches of real brains with inserted lesions (gdbackend.lesions), as
in-memory samples or as files plus a CSV that `gd classify` reads."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..lesions import LesionCase, lesion_cases, patch_boxes
from .data import Sample

CLASSES = ["absent", "present"]


def patch_samples(cases: list[LesionCase], size: float = 32.0, negatives: int = 2, seed: int = 0) -> list[Sample]:
    """One patch around each lesion ("present") and `negatives` lesion-free patches per case ("absent")."""
    rng = np.random.default_rng(seed)
    return [Sample(c.image, CLASSES[k], box) for c in cases for box, k in patch_boxes(c, size, negatives, rng)]


def lesion_patches(n_cases: int, seed: int, size: float = 32.0, negatives: int = 2, **options) -> list[Sample]:
    return patch_samples(lesion_cases(n_cases, seed, **options), size, negatives, seed)


def write_csv(samples: list[Sample], folder: Path, name: str = "data.csv") -> Path:
    """Write each distinct image once as NIfTI and a CSV path,label,box beside them."""
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[int, str] = {}
    lines = ["path,label,box"]
    for s in samples:
        if id(s.image) not in files:
            files[id(s.image)] = f"image{len(files):03d}.nii.gz"
            s.image.write(folder / files[id(s.image)])
        box = " ".join(f"{v:.2f}" for v in s.box) if s.box is not None else ""
        lines.append(f"{files[id(s.image)]},{s.label},{box}")
    (folder / name).write_text("\n".join(lines) + "\n")
    return folder / name
