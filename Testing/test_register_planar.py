"""Single-slice volumes (how Slicer holds a 2D image) registered in their plane (register/planar.py)."""
from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from gdbackend import Volume
from gdbackend.errors import InputError
from gdbackend.register import register
from gdbackend.register import sample as cases
from gdbackend.register.planar import Plane

# an oblique frame: the slices lie in neither an axial, coronal nor sagittal plane
OBLIQUE = np.array(sitk.Euler3DTransform((0, 0, 0), 0.3, -0.2, 0.5).GetMatrix()).reshape(3, 3)
ORIGIN = (-40.0, 25.0, 12.0)


def one_slice(image: Volume, thin: int, offset: float = 0.0) -> Volume:
    """A 2D image as a 3D volume one voxel (3 mm) thick across (x, y, z) axis `thin`, in the oblique frame; its
    rows and columns keep the 2D image's, so plane coordinates are the 2D image's own. `offset`: mm across."""
    array = np.expand_dims(image.array, 2 - thin)
    spacing = [1.0, 1.0]
    spacing.insert(thin, 3.0)
    origin = np.array(ORIGIN) + offset * OBLIQUE[:, thin]
    return Volume(array, tuple(spacing), tuple(origin), OBLIQUE)


def in_plane(matrix: np.ndarray, fixed: Volume) -> np.ndarray:
    """A 3D result in the fixed slice's plane coordinates, (u, v, n) with homogeneous 4th row."""
    frame = Plane.of(fixed).frame
    return np.linalg.inv(frame) @ matrix @ frame


@pytest.mark.parametrize("thin", [2, 0])
def test_case_b_as_one_slice_volumes_is_as_precise_as_in_2d(thin):
    fixed, moving = cases.pair_2d("B")
    three_d = register(one_slice(fixed, thin), one_slice(moving, thin, offset=2.5), "rigid", "mse")
    plane = in_plane(three_d.matrix, three_d.fixed_grid)
    flat = np.eye(3)
    flat[:2, :2], flat[:2, 2] = plane[:2, :2], plane[:2, 3]
    angle, shift = cases.rigid_2d_errors(flat)
    assert angle < 0.01 and shift < 0.01, (angle, shift)       # 4.5 deg off when registered in 3D
    assert np.allclose(plane[2], [0, 0, 1, 2.5]) and np.allclose(plane[:2, 2], 0)   # across: the slices' offset
    assert three_d.matrix.shape == (4, 4) and three_d.fixed_grid.array.shape == one_slice(fixed, thin).array.shape


def test_a_one_slice_result_resamples_as_the_2d_result_does():
    fixed, moving = cases.pair_2d("B")
    flat = register(fixed, moving, "rigid", "mse")
    three_d = register(one_slice(fixed, 2), one_slice(moving, 2), "rigid", "mse")
    resampled = three_d.resample(one_slice(moving, 2)).array[0]
    assert np.abs(resampled - flat.resample(moving).array).max() < 1e-3 * np.abs(moving.array).max()


def test_a_deformable_one_slice_result_as_bspline_and_as_field_agree():
    fixed, moving = cases.pair_2d("B")
    f3, m3 = one_slice(fixed, 1), one_slice(moving, 1, offset=-1.0)
    as_grid = register(f3, m3, ["rigid", "bspline"], "mse", iterations=20, output_type="bspline")
    as_field = register(f3, m3, ["rigid", "bspline"], "mse", iterations=20, output_type="displacement")
    itk = sitk.TransformToDisplacementField(as_grid.to_sitk(), sitk.sitkVectorFloat64, *(
        getattr(f3.to_sitk(), f"Get{k}")() for k in ("Size", "Origin", "Spacing", "Direction")))
    field = sitk.GetArrayFromImage(itk)
    assert field.shape == as_field.displacement.shape == (*f3.array.shape, 3)
    assert np.abs(field - as_field.displacement).max() < 1e-3
    assert np.allclose(as_field.displacement @ OBLIQUE[:, 1], -1.0)   # every point lands on the moving slice


def test_slices_in_planes_apart_are_refused():
    fixed, moving = cases.pair_2d("A")
    tilted = one_slice(moving, 2)
    tilted = Volume(tilted.array, tilted.spacing, tilted.origin,
                    np.array(sitk.Euler3DTransform((0, 0, 0), 0.1, 0, 0).GetMatrix()).reshape(3, 3) @ OBLIQUE)
    with pytest.raises(InputError, match="single slice 5.7 deg out of the fixed slice's plane"):
        register(one_slice(fixed, 2), tilted, "rigid")


def test_an_oblique_bspline_result_moves_every_voxel_as_its_field_does():
    fixed, moving = cases.pair_2d("B")
    turn = np.array([[0.8, -0.6], [0.6, 0.8]])
    f, m = (Volume(v.array, (1.0, 1.0), (-40.3, 25.7), turn) for v in (fixed, moving))
    as_grid = register(f, m, ["rigid", "bspline"], "mse", iterations=20, output_type="bspline")
    as_field = register(f, m, ["rigid", "bspline"], "mse", iterations=20, output_type="displacement")
    image = f.to_sitk()
    field = sitk.GetArrayFromImage(sitk.TransformToDisplacementField(
        as_grid.to_sitk(), sitk.sitkVectorFloat64, image.GetSize(), image.GetOrigin(), image.GetSpacing(),
        image.GetDirection()))
    # the first row and column had fallen outside ITK's valid region by rounding and stayed where they were
    assert np.abs(field - as_field.displacement).max() < 1e-3
