"""The starting-rotation search (register/search.py) on real images rotated further than descent alone recovers."""
from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from gdbackend import Volume
from gdbackend.errors import InputError
from gdbackend.register import register
from gdbackend.register import sample as cases
from gdbackend.register.options import SEARCH_STEP_DEG
from gdbackend.register.search import candidate_rotations
from gdbackend.sample_data import itk_example


def _oriented_pair() -> tuple[Volume, Volume, np.ndarray]:
    """ITK's PD slice stored with directions -30 deg and, shifted by (13, 17) px, +30 deg: 60 deg apart in physical
    space. Truth from the headers: a fixed index i lies at Df i, its content in the moving image at Dm (i + s)."""
    fixed = Volume.read(itk_example("BrainProtonDensitySliceBorder20DirectionMinus30.mhd"))
    moving = Volume.read(itk_example("BrainProtonDensitySliceShifted13x17yDirectionPlus30.mhd"))
    truth = np.eye(3)
    truth[:2, :2] = moving.direction @ fixed.direction.T
    truth[:2, 2] = moving.direction @ [13.0, 17.0]
    return fixed, moving, truth


def _mean_error(matrix: np.ndarray, truth: np.ndarray, fixed: Volume) -> float:
    index = np.stack(np.meshgrid(*[np.arange(0, n, 8) for n in fixed.size]), -1).reshape(-1, 2)
    return float(cases.tre(matrix, truth, index @ fixed.direction.T).mean())


def test_itk_oriented_slices_60_degrees_apart_are_found_by_the_search():
    fixed, moving, truth = _oriented_pair()
    # SimpleITK's regular-step descent on every voxel finds this one too (60.02 deg), on 20 % samples it did not
    assert _mean_error(register(fixed, moving, "rigid", "mse").matrix, truth, fixed) < 0.01


@pytest.mark.parametrize("degrees", [-150.0, 120.0])
def test_a_2d_slice_turned_far_is_registered(degrees):
    fixed = cases.slice_2d("BrainProtonDensitySliceBorder20.png")
    image = sitk.GetImageFromArray(fixed.array)
    c = (np.array(image.GetSize()) - 1) / 2
    turn = sitk.Euler2DTransform(c.tolist(), np.radians(degrees), (5.0, -4.0))
    moving = Volume(sitk.GetArrayFromImage(sitk.Resample(image, image, turn.GetInverse(), sitk.sitkLinear, 0.0)))
    truth = np.eye(3)
    truth[:2, :2] = np.array(turn.GetMatrix()).reshape(2, 2)
    truth[:2, 2] = np.array(turn.GetTranslation()) + c - truth[:2, :2] @ c
    assert _mean_error(register(fixed, moving, "rigid", "mse").matrix, truth, fixed) < 0.02
    assert _mean_error(register(fixed, moving, "rigid", "mse", rotation_search=0).matrix, truth, fixed) > 10


def test_a_brain_turned_180_degrees_needs_the_search_asked_for_in_3d():
    fixed, _, _ = cases.affine_case("2mm")
    image = fixed.to_sitk()
    c = image.TransformContinuousIndexToPhysicalPoint((np.array(image.GetSize()) - 1) / 2)
    turn = sitk.Euler3DTransform(c, np.radians(10.0), 0.0, np.radians(180.0), (5.0, -4.0, 3.0))
    moving = Volume.from_sitk(sitk.Resample(image, image, turn.GetInverse(), sitk.sitkLinear, 0.0))
    truth = np.eye(4)
    truth[:3, :3] = np.array(turn.GetMatrix()).reshape(3, 3)
    truth[:3, 3] = np.array(turn.GetTranslation()) + c - truth[:3, :3] @ c
    points = cases.brain_points_1mm()[::97]
    searched = register(fixed, moving, "rigid", "mse", rotation_search=180).matrix
    default = register(fixed, moving, "rigid", "mse").matrix    # 3D searches only when asked
    assert cases.tre(searched, truth, points).mean() < 0.02
    assert cases.tre(default, truth, points).mean() > 10


def test_when_the_unturned_start_wins_the_result_is_the_one_without_search():
    fixed, moving = cases.pair_2d("A")      # shifted, not turned
    with_search = register(fixed, moving, "rigid", "mse").matrix
    assert np.array_equal(with_search, register(fixed, moving, "rigid", "mse", rotation_search=0).matrix)


def test_candidates_are_rotations_a_step_apart():
    flat = candidate_rotations(2, 180)
    angles = sorted([0.0] + [np.degrees(np.arctan2(r[1, 0], r[0, 0])) for r in flat])   # the start is the 0
    assert len(flat) == 360 / SEARCH_STEP_DEG - 1 and np.allclose(np.diff(angles), SEARCH_STEP_DEG)
    solid = candidate_rotations(3, 45)
    assert len(solid) == 3 * 4
    for r in solid:
        assert np.allclose(r @ r.T, np.eye(3)) and np.isclose(np.linalg.det(r), 1)


def test_a_negative_search_width_is_refused():
    fixed, moving = cases.pair_2d("B")
    with pytest.raises(InputError, match="rotation_search"):
        register(fixed, moving, "rigid", rotation_search=-10)
