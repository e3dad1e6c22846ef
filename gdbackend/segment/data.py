"""Training and evaluation cases: image/label file pairs from a folder or a CSV, or in-memory volumes
(what Slicer hands over), checked before any training starts."""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..checks import check_intensities, check_mask
from ..errors import InputError
from ..segmentation_file import is_segmentation_file, labels_of, read_label
from ..volume import IMAGE_SUFFIXES, Volume  # noqa: F401  (IMAGE_SUFFIXES: the folder readers take it from here)


@dataclass
class Case:
    name: str
    image: Volume
    label: Volume | None = None


def _images_in(folder: Path) -> dict[str, Path]:
    """Image files by name without suffix, and sub-folders (DICOM series, as Volume.read takes them) by name."""
    files = {}
    for p in sorted(folder.iterdir()):
        suffix = next((s for s in IMAGE_SUFFIXES if p.name.lower().endswith(s)), None)
        if suffix and p.is_file():
            files[p.name[: -len(suffix)]] = p
        elif p.is_dir() and not p.name.startswith("."):
            files[p.name] = p
    return files


def find_pairs(source: str | Path) -> list[tuple[str, Path, Path]]:
    """(name, image, label) triples from a folder with images/ and labels/ of the same file names,
    or from a CSV with columns image,label (paths relative to the CSV)."""
    source = Path(source)
    if source.is_file() and source.suffix.lower() == ".csv":
        with open(source, newline="") as f:
            rows = list(csv.DictReader(f))
        if not rows or not {"image", "label"} <= set(rows[0]):
            raise InputError(f"{source} needs a header with columns image,label and one row per case.")
        pairs = [(Path(r["image"]).name.split(".")[0], source.parent / r["image"], source.parent / r["label"])
                 for r in rows]
    elif source.is_dir():
        if not (source / "images").is_dir() or not (source / "labels").is_dir():
            raise InputError(f"{source} needs two sub-folders, images/ and labels/, holding files of the same "
                             "names (or give a CSV with columns image,label).")
        images, labels = _images_in(source / "images"), _images_in(source / "labels")
        missing = sorted(set(images) - set(labels))
        if missing:
            raise InputError(f"No label file for image(s) {', '.join(missing[:5])} in {source / 'labels'}: "
                             "add them or remove the images.")
        pairs = [(n, images[n], labels[n]) for n in images]
    else:
        raise InputError(f"{source} is neither a folder nor a .csv file: give a data folder or a CSV of cases.")
    if not pairs:
        raise InputError(f"No cases found in {source}: add image/label pairs.")
    return pairs


def load_cases(source: str | Path, labels: list[dict] | None = None) -> list[Case]:
    """The cases of `source` (find_pairs), their Slicer segmentations mapped onto `labels` by segment name."""
    return [Case(name, Volume.read(img), read_label(lab, labels)) for name, img, lab in find_pairs(source)]


def labels_from_files(source: str | Path, unnamed: list[dict] | None = None) -> list[dict]:
    """The label list that the cases' Slicer segmentations name, for training without --labels; label maps
    without names give `unnamed` (none: an error that asks for the labels)."""
    paths = [label for _, _, label in find_pairs(source)]
    if unnamed is not None and not any(is_segmentation_file(p) for p in paths):
        return unnamed
    return labels_of(paths)


def check_case(case: Case, labels: list[dict]) -> None:
    """Refuse what would waste a training run: bad intensities, grids that differ, empty or unknown labels."""
    check_intensities(case.image, f"image of case {case.name}")
    if case.label is None:
        raise InputError(f"Case {case.name} has no label map: training and evaluation need one per image.")
    check_mask(case.label, case.image, f"label map of case {case.name}")
    if case.label.array.dtype.kind not in "biu":
        rounded = np.round(case.label.array)
        if not np.array_equal(rounded, case.label.array):
            raise InputError(f"The label map of case {case.name} has fractional values: a label map holds integers "
                             "(0 background, then the label values).")
    found = set(np.unique(case.label.array).astype(int).tolist()) - {0}
    unknown = sorted(found - {lb["value"] for lb in labels})
    if unknown:
        raise InputError(f"The label map of case {case.name} holds value(s) {unknown} that are not in the label "
                         f"list {[lb['value'] for lb in labels]}: add them to --labels or relabel the map.")


def split(cases: list[Case], val_fraction: float, seed: int | None = 0) -> tuple[list[Case], list[Case]]:
    """Random train/validation split; too few cases for the requested split is an error, not a surprise."""
    if not 0 <= val_fraction < 1:
        raise InputError(f"--val-fraction must be in [0, 1), got {val_fraction}.")
    if val_fraction == 0:
        return list(cases), []
    n_val = int(round(len(cases) * val_fraction))
    if n_val < 1 or len(cases) - n_val < 1:
        raise InputError(f"{len(cases)} case(s) are too few for a validation fraction of {val_fraction}: "
                         "add cases, or use --val-fraction 0 (no validation).")
    order = np.random.default_rng(seed).permutation(len(cases))
    return [cases[i] for i in order[n_val:]], [cases[i] for i in order[:n_val]]
