"""Volumes with known lesions for detection (gdbackend.lesions), in memory or as files plus the CSV that
`gd detect` reads."""
from __future__ import annotations

from pathlib import Path

from ..lesions import lesion_cases
from .data import DetectionCase


def lesion_volumes(n: int, seed: int, **options) -> list[DetectionCase]:
    """`n` brains (Colin27 and ITK's T1 in turn) with 1-3 inserted lesions each, the label map as truth."""
    return [DetectionCase(c.name, c.image, c.label) for c in lesion_cases(n, seed, **options)]


def write_csv(cases: list[DetectionCase], folder: Path, name: str = "data.csv") -> Path:
    """images/NAME.nii.gz, labels/NAME.nii.gz and a CSV image,label beside them."""
    for sub in ("images", "labels"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    lines = ["image,label"]
    for c in cases:
        c.image.write(folder / "images" / f"{c.name}.nii.gz")
        c.label.write(folder / "labels" / f"{c.name}.nii.gz")
        lines.append(f"images/{c.name}.nii.gz,labels/{c.name}.nii.gz")
    (folder / name).write_text("\n".join(lines) + "\n")
    return folder / name
