"""The real brain-extraction problem: train on Colin27 (mricron-data: ch2 head, ch2bet > 0 as brain),
test on another person (ITK's KmeansTest_T1UCharRaw, KmeansTest_T1RawSkullStrip > 0 as brain)."""
from __future__ import annotations

import contextlib
import io
import json
import os
import shlex
from pathlib import Path

import numpy as np

from ..cli import main
from ..sample_data import itk_example, mricron
from ..train import load_model_file
from ..volume import Volume
from .data import Case

BRAIN = [{"value": 1, "name": "brain", "color": [0.94, 0.84, 0.57]}]


def _case(name: str, image: Path, mask: Path) -> Case:
    image_v = Volume.read(image)
    return Case(name, image_v, image_v.with_array((Volume.read(mask).array > 0).astype(np.uint8)))


def colin27() -> Case:
    return _case("colin27", mricron("ch2.nii.gz"), mricron("ch2bet.nii.gz"))


def itk_t1() -> Case:
    return _case("itk_t1", itk_example("KmeansTest_T1UCharRaw.nii.gz"),
                 itk_example("KmeansTest_T1RawSkullStrip.nii.gz"))


def write_folder(cases: list[Case], folder: Path) -> Path:
    """A data folder as `gd segment` reads it: images/NAME.nii.gz and labels/NAME.nii.gz."""
    for sub in ("images", "labels"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    for c in cases:
        c.image.write(folder / "images" / f"{c.name}.nii.gz")
        c.label.write(folder / "labels" / f"{c.name}.nii.gz")
    return folder


def brain_extraction(folder: Path, epochs: int, samples_per_case: int = 8, schedule: str = "cosine") -> dict:
    """Train on Colin27 and evaluate on the ITK T1 through `gd segment`, as a user would; returns the
    commands and their JSON summaries ({"commands", "train", "test", "model", "history"})."""
    folder = Path(folder)
    write_folder([colin27()], folder / "train")
    write_folder([itk_t1()], folder / "test")
    model = folder / "brain.pt"
    commands = [
        ["segment", "train", "--data", folder / "train", "--labels", "1:brain", "--out", model, "--spacing", "2",
         "--patch", "64", "--epochs", str(epochs), "--samples-per-case", str(samples_per_case),
         "--schedule", schedule, "--val-fraction", "0", "--json"],
        ["segment", "evaluate", "--model", model, "--data", folder / "test", "--csv", folder / "scores.csv",
         "--largest-component", "--json"]]
    summaries = []
    for argv in commands:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            if main([str(a) for a in argv]) != 0:
                raise RuntimeError(f"gd {' '.join(map(str, argv))} failed")
        summaries.append(json.loads(out.getvalue().strip().splitlines()[-1]))
    history = load_model_file(model.with_name("brain.last.pt"), task="segment")["card"]["history"]
    shown = [[os.path.relpath(a) if isinstance(a, Path) else a for a in argv] for argv in commands]
    return {"commands": ["gd " + shlex.join(argv) for argv in shown], "train": summaries[0],
            "test": summaries[1]["mean"], "model": model, "history": history}
