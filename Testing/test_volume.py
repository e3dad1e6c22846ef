"""`Volume`: file formats, geometry, Slicer's IJK-to-RAS and resampling, on the real sample data."""
from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from gdbackend import Volume
from gdbackend.checks import check_intensities, check_mask
from gdbackend.errors import InputError, ResourceError
from gdbackend.sample_data import itk_example, mricron


def oblique(angles=(20.0, -35.0, 50.0)) -> np.ndarray:
    rx, ry, rz = np.radians(angles)
    cx, sx, cy, sy, cz, sz = np.cos(rx), np.sin(rx), np.cos(ry), np.sin(ry), np.cos(rz), np.sin(rz)
    return (np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]]) @ np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
            @ np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]]))


@pytest.fixture(scope="module")
def brain() -> Volume:
    v = Volume.read(mricron("ch2bet.nii.gz"))
    return Volume(v.array[::3, ::3, ::3].astype(np.float32), (1.2, 0.7, 3.1), (-12.5, 30.0, 7.25), oblique())


@pytest.mark.parametrize("suffix", [".nii.gz", ".nii", ".nrrd", ".mha"])
def test_3d_formats_keep_voxels_and_geometry(brain, tmp_path, suffix):
    back = Volume.read(brain.write(tmp_path / f"b{suffix}"))
    assert back.array.dtype == brain.array.dtype and np.array_equal(back.array, brain.array)
    np.testing.assert_allclose(back.index_to_physical(), brain.index_to_physical(), atol=1e-5)


def test_2d_png_reads_as_scalar_slice_and_round_trips(tmp_path):
    v = Volume.read(itk_example("BrainProtonDensitySliceBorder20.png"))
    assert v.ndim == 2 and v.array.shape == (257, 221) and v.array.max() > 100
    back = Volume.read(v.write(tmp_path / "s.png", compress=False))
    assert np.array_equal(back.array, v.array)


def test_ijk_to_ras_round_trip_oblique_anisotropic(brain):
    m = brain.ijk_to_ras()
    back = Volume.from_ijk_to_ras(brain.array, m)
    np.testing.assert_allclose(back.spacing, brain.spacing, rtol=1e-12)
    np.testing.assert_allclose(back.origin, brain.origin, atol=1e-12)
    np.testing.assert_allclose(back.direction, brain.direction, atol=1e-12)
    # a voxel's RAS position is its LPS position with x and y negated
    ijk = np.array([4.0, 9.0, 2.0, 1.0])
    lps = brain.index_to_physical() @ ijk
    np.testing.assert_allclose(m @ ijk, [-lps[0], -lps[1], lps[2], 1.0], atol=1e-9)


def test_ijk_to_ras_matches_itk_physical_points(brain):
    image = brain.to_sitk()
    ras = brain.ijk_to_ras() @ np.array([3, 5, 7, 1.0])
    lps = image.TransformContinuousIndexToPhysicalPoint((3.0, 5.0, 7.0))
    np.testing.assert_allclose(ras[:3], [-lps[0], -lps[1], lps[2]], atol=1e-9)


def test_2d_ijk_to_ras_round_trip():
    v = Volume(np.arange(12.0).reshape(3, 4), (0.5, 2.0), (3.0, -4.0), np.array([[0.0, -1.0], [1.0, 0.0]]))
    back = Volume.from_ijk_to_ras(v.array, v.ijk_to_ras())
    np.testing.assert_allclose(back.index_to_physical(), v.index_to_physical(), atol=1e-12)


def test_resample_onto_own_grid_is_identity_and_onto_another_grid_keeps_physical_values(brain):
    assert np.allclose(brain.resample_to(brain).array, brain.array, atol=1e-4)
    coarse = Volume(np.zeros((20, 25, 22), np.float32), (2.0, 2.0, 2.0), brain.origin, brain.direction)
    out = brain.resample_to(coarse, "nearest")
    ijk_coarse = np.array([10, 12, 9, 1.0])
    point = coarse.index_to_physical() @ ijk_coarse
    ijk_brain = np.linalg.solve(brain.index_to_physical(), point)
    i, j, k = np.round(ijk_brain[:3]).astype(int)
    assert out.array[9, 12, 10] == brain.array[k, j, i]


@pytest.mark.parametrize("array,message", [
    (np.zeros((2, 3, 4, 5)), "4D"), (np.zeros((0, 4, 4)), "zero size"), (np.zeros(5), "2D or 3D")])
def test_bad_arrays_are_refused(array, message):
    with pytest.raises(InputError, match=message):
        Volume(array)


def test_bad_files_are_refused_with_advice(tmp_path):
    with pytest.raises(InputError, match="not found"):
        Volume.read(tmp_path / "missing.nii.gz")
    (tmp_path / "junk.nii.gz").write_bytes(b"not an image")
    with pytest.raises(InputError, match="Cannot read"):
        Volume.read(tmp_path / "junk.nii.gz")
    with pytest.raises(InputError, match="folder"):
        Volume.read(tmp_path)
    rgb = sitk.Compose([sitk.Image(8, 8, sitk.sitkUInt8) + c for c in (0, 50, 100)])
    sitk.WriteImage(rgb, str(tmp_path / "rgb.png"))
    with pytest.raises(InputError, match="colour or vector"):
        Volume.read(tmp_path / "rgb.png")


def test_write_into_missing_folder_fails_before_writing(brain, tmp_path):
    with pytest.raises(ResourceError, match="does not exist"):
        brain.write(tmp_path / "nope" / "b.nii.gz")
    assert not (tmp_path / "nope").exists()


def test_intensity_and_mask_checks(brain):
    nan = brain.with_array(np.where(brain.array > 0, np.nan, 0).astype(np.float32))
    with pytest.raises(InputError, match="NaN"):
        check_intensities(nan)
    with pytest.raises(InputError, match="constant"):
        check_intensities(brain.with_array(np.ones_like(brain.array)))
    with pytest.raises(InputError, match="empty"):
        check_mask(brain.with_array(np.zeros_like(brain.array)), brain)
    shifted = Volume(brain.array, brain.spacing, (0.0, 0.0, 0.0), brain.direction)
    with pytest.raises(InputError, match="another grid"):
        check_mask(shifted, brain)
    assert check_mask(brain.with_array(brain.array > 0), brain).sum() == (brain.array > 0).sum()
