"""DICOM series given as folders, as a PACS export or a scanner hands them over: read with their geometry, one
series chosen by its UID from a study folder, and used straight from the command line."""
from __future__ import annotations

import json
import locale
import shutil
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from gdbackend import Volume
from gdbackend.cli import main
from gdbackend.errors import InputError
from gdbackend.sample_data import mricron
from gdbackend.volume import image_stem

UID_ROOT = "1.2.826.0.1.3680043.2.1125"     # an example root; the series UIDs below hang off it


def head(step: int = 4) -> Volume:
    """Colin27's brain, every `step`-th voxel, as signed 16-bit CT-like values on an oblique grid."""
    v = Volume.read(mricron("ch2bet.nii.gz"))
    a, b = np.radians(15.0), np.radians(-8.0)
    turn = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]]) @ \
        np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    array = (v.array[::step, ::step, ::step].astype(np.int16) * 4 - 1000)
    return Volume(array, (0.9 * step, 0.8 * step, 1.5 * step), (-80.5, 102.0, -60.25), turn)


def write_series(volume: Volume, folder: Path, uid: str, description: str, prefix: str = "IM") -> None:
    """One file a slice, with the tags a scanner writes for the geometry (position, orientation, spacing). GDCM's
    writer leaves the process in the C locale (measured: Python's preferred encoding ASCII afterwards, which broke
    later tests reading UTF-8 sources), so the locale is restored after it; reading a series leaves it alone."""
    saved = locale.setlocale(locale.LC_ALL)
    folder.mkdir(exist_ok=True)
    image = volume.to_sitk()
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()     # keep the series UID set below instead of a new one per file
    rows = np.asarray(image.GetDirection()).reshape(3, 3)
    orientation = "\\".join(f"{x:.9f}" for x in (*rows[:, 0], *rows[:, 1]))
    for k in range(image.GetDepth()):
        plane = image[:, :, k]
        position = image.TransformIndexToPhysicalPoint((0, 0, k))
        tags = {"0008|0060": "CT", "0008|103e": description, "0020|000e": uid, "0020|000d": f"{UID_ROOT}.1",
                "0020|0013": str(k + 1), "0020|0032": "\\".join(f"{x:.6f}" for x in position),
                "0020|0037": orientation, "0018|0050": f"{volume.spacing[2]:.6f}",
                "0008|0018": f"{uid}.{k + 1}"}
        for key, value in tags.items():
            plane.SetMetaData(key, value)
        writer.SetFileName(str(folder / f"{prefix}{k:04d}.dcm"))
        writer.Execute(plane)
    locale.setlocale(locale.LC_ALL, saved)


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> tuple[Path, Volume, Volume]:
    """A folder of one series, and a study folder of two (the second series a coarser copy)."""
    root = tmp_path_factory.mktemp("dicom")
    fine, coarse = head(4), head(6)
    write_series(fine, root / "series", f"{UID_ROOT}.2.1", "head fine")
    write_series(fine, root / "study", f"{UID_ROOT}.2.1", "head fine", "A")
    write_series(coarse, root / "study", f"{UID_ROOT}.2.2", "head coarse", "B")
    return root, fine, coarse


def same(read: Volume, written: Volume) -> None:
    assert np.array_equal(read.array.astype(np.int32), written.array.astype(np.int32))
    assert np.allclose(read.spacing, written.spacing, atol=1e-5) and np.allclose(read.origin, written.origin, atol=1e-4)
    assert np.allclose(read.direction, written.direction, atol=1e-6)


def test_a_series_folder_reads_with_its_voxels_and_geometry(study):
    root, fine, _ = study
    encoding = locale.getpreferredencoding(False)
    same(Volume.read(root / "series"), fine)
    assert locale.getpreferredencoding(False) == encoding        # reading keeps the user's locale
    assert image_stem(root / "series") == "series" and image_stem(root / "study" / f"{UID_ROOT}.2.2") == \
        f"{UID_ROOT}.2.2"


def test_a_study_folder_lists_its_series_and_one_is_chosen_by_uid(study):
    root, fine, coarse = study
    with pytest.raises(InputError, match=r"holds 2 DICOM series: .*2\.1 \(CT, head fine, \d+ files\).*head coarse"):
        Volume.read(root / "study")
    same(Volume.read(root / "study" / f"{UID_ROOT}.2.2"), coarse)
    same(Volume.read(root / "study" / f"{UID_ROOT}.2.1"), fine)
    with pytest.raises(InputError, match="has no DICOM series 1.2.3"):
        Volume.read(root / "study" / "1.2.3")
    empty = root / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("not an image")
    with pytest.raises(InputError, match="without a DICOM series"):
        Volume.read(empty)


def test_training_cases_may_be_series_folders(study, tmp_path):
    from gdbackend.segment import check_case, find_pairs, load_cases
    root, fine, _ = study
    shutil.copytree(root / "series", tmp_path / "images" / "head")        # images/head/: the series' slices
    (tmp_path / "images" / ".cache").mkdir()                                 # hidden folders are not cases
    (tmp_path / "labels").mkdir()
    brain = Volume((fine.array > -900).astype(np.uint8), fine.spacing, fine.origin, fine.direction)
    brain.write(tmp_path / "labels" / "head.nii.gz")
    assert [(name, image.name) for name, image, _ in find_pairs(tmp_path)] == [("head", "head")]
    [case] = load_cases(tmp_path)
    check_case(case, [{"value": 1, "name": "brain"}])                        # the series' grid is the label's
    same(case.image, fine)


def test_gd_register_takes_a_series_folder(study, tmp_path, capsys):
    root, fine, _ = study
    shifted = Volume(np.roll(fine.array, 2, axis=2), fine.spacing, fine.origin, fine.direction)
    shifted.write(tmp_path / "moving.nii.gz")
    code = main(["register", str(root / "series"), str(tmp_path / "moving.nii.gz"), "--transform", "translation",
                 "--output-transform", str(tmp_path / "t.tfm"), "--json", "--device", "cpu"])
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    # the content sits 2 voxels further along i in the moving image: T(x) = x + 2 voxel steps along that axis, in mm
    expected = 2 * fine.spacing[0] * fine.direction[:, 0]
    assert code == 0 and np.abs(np.array(line["parameters"])[:3, 3] - expected).max() < 0.3, (line, expected)
