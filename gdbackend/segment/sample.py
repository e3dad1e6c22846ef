"""The real brain-extraction problem: train on Colin27 (mricron-data: ch2 head, ch2bet > 0 as brain),
test on another person (ITK's KmeansTest_T1UCharRaw, KmeansTest_T1RawSkullStrip > 0 as brain)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..sample_data import itk_example, mricron
from ..volume import Volume
from .data import Case

BRAIN = [{"value": 1, "name": "brain", "color": [0.94, 0.84, 0.57]}]


def _case(name: str, image: Path, mask: Path) -> Case:
    image_v = Volume.read(image)
    return Case(name, image_v, image_v.with_array((Volume.read(mask).array > 0).astype(np.uint8)))


def colin27() -> Case:
    return _case("colin27", mricron("ch2.nii.gz"), mricron("ch2bet.nii.gz"))


def itk_t1() -> Case:
    return _case("itk_t1", itk_example("KmeansTest_T1UCharRaw.nii.gz"), itk_example("KmeansTest_T1RawSkullStrip.nii.gz"))


def write_folder(cases: list[Case], folder: Path) -> Path:
    """A data folder as `gd segment` reads it: images/NAME.nii.gz and labels/NAME.nii.gz."""
    for sub in ("images", "labels"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    for c in cases:
        c.image.write(folder / "images" / f"{c.name}.nii.gz")
        c.label.write(folder / "labels" / f"{c.name}.nii.gz")
    return folder
