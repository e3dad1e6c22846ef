"""Registration outputs (ITK files read by SimpleITK), CLI, options, bad input, cancel and repeatability."""
from __future__ import annotations

import json

import numpy as np
import pytest
import SimpleITK as sitk

from gdbackend import Volume
from gdbackend.cli import main
from gdbackend.errors import Cancelled, InputError
from gdbackend.register import register
from gdbackend.register import sample as cases
from gdbackend.sample_data import itk_example


@pytest.fixture(scope="module")
def affine_2mm():
    return cases.affine_case("2mm")


@pytest.fixture(scope="module")
def brain_points() -> np.ndarray:
    return cases.brain_points_1mm()


@pytest.fixture(scope="module")
def affine_result(affine_2mm):
    fixed, moving, _ = affine_2mm
    return register(fixed, moving, "affine", "mse")


@pytest.mark.parametrize("suffix", [".tfm", ".txt", ".h5", ".mat"])
def test_saved_linear_transform_is_the_true_map_for_simpleitk(affine_2mm, affine_result, brain_points, tmp_path,
                                                              suffix):
    fixed, moving, truth = affine_2mm
    result = affine_result
    transform = sitk.ReadTransform(str(result.save(tmp_path / f"t{suffix}")))
    mapped = np.array([transform.TransformPoint(p) for p in brain_points[::997]])
    expected = brain_points[::997] @ truth[:3, :3].T + truth[:3, 3]
    assert np.abs(mapped - expected).max() < 0.05
    by_sitk = Volume.from_sitk(sitk.Resample(moving.to_sitk(), fixed.to_sitk(), transform, sitk.sitkLinear, 0.0))
    assert np.allclose(by_sitk.array, result.resample(moving).array, atol=1e-4)
    brain = fixed.array > 0.1 * fixed.array.max()
    before = np.corrcoef(moving.array[brain], fixed.array[brain])[0, 1]
    after = np.corrcoef(by_sitk.array[brain], fixed.array[brain])[0, 1]
    assert before < 0.6 and after > 0.97, (before, after)   # 2 % noise in the moving image caps it


@pytest.fixture(scope="module")
def bspline_result():
    fixed, moving, fixed_labels, moving_labels, mask = cases.deformable_case()
    return register(fixed, moving, "bspline", "mse"), moving, mask


@pytest.mark.parametrize("suffix", [".h5", ".nii.gz", ".nrrd"])
def test_saved_displacement_field_inverts_the_known_warp_for_simpleitk(bspline_result, tmp_path, suffix):
    result, moving, mask = bspline_result
    path = result.save(tmp_path / f"warp{suffix}")
    transform = (sitk.ReadTransform(str(path)) if suffix == ".h5"
                 else sitk.DisplacementFieldTransform(sitk.ReadImage(str(path), sitk.sitkVectorFloat64)))
    warp = cases.deformable_truth()   # moving(y) = fixed(W(y)): the registration T must give W(T(x)) = x
    ijk = np.argwhere(mask.array > 0)[::53][:, ::-1]
    points = ijk * 2.0
    err = np.array([np.linalg.norm(np.array(warp.TransformPoint(transform.TransformPoint(p))) - p) for p in points])
    moved = np.array([np.linalg.norm(np.array(warp.TransformPoint(p)) - p) for p in points])
    assert moved.mean() > 2.0 and err.mean() < 0.5, (moved.mean(), err.mean())
    by_sitk = sitk.Resample(moving.to_sitk(), result.fixed_grid.to_sitk(), transform, sitk.sitkLinear, 0.0)
    assert np.allclose(sitk.GetArrayFromImage(by_sitk), result.resample(moving).array, atol=1e-3)


def test_fixed_and_moving_on_different_oblique_grids(affine_2mm, brain_points):
    fixed, moving, truth = affine_2mm
    c, s = np.cos(np.radians(12)), np.sin(np.radians(12))
    grid = Volume(np.zeros((70, 80, 75), np.float32), (2.5, 1.5, 2.0), (-20.0, 15.0, -10.0),
                  np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]))
    oblique = moving.resample_to(grid)
    result = register(fixed, oblique, "affine", "mse")
    assert cases.tre(result.matrix, truth, brain_points).mean() < 0.1


@pytest.mark.parametrize("metric", ["ncc", "mi"])
def test_other_metrics_recover_the_affine(affine_2mm, brain_points, metric):
    fixed, moving, truth = affine_2mm
    result = register(fixed, moving, "affine", metric)
    assert cases.tre(result.matrix, truth, brain_points).mean() < 0.15


def test_local_ncc_recovers_a_shift_under_an_intensity_bias_2d():
    # local NCC runs on whole grids (kept to 2D for CI time) and, like ANTs' CC, is meant for the
    # fine alignment after a linear stage: a few-pixel shift, with a smooth bias field MSE would fight
    fixed, _ = cases.pair_2d("A")
    shift = sitk.TranslationTransform(2, (2.5, -1.5))
    moved = sitk.Resample(fixed.to_sitk(), fixed.to_sitk(), shift, sitk.sitkBSpline, 0.0)
    jj, ii = np.indices(fixed.array.shape)
    moving = Volume.from_sitk(moved).with_array(sitk.GetArrayFromImage(moved) * (1 + ii / fixed.array.shape[1]))
    result = register(fixed, moving, "translation", "lncc", iterations=[100, 50, 50])
    assert np.linalg.norm(result.matrix[:2, 2] - [-2.5, 1.5]) < 0.05   # moving(x) = fixed(x + shift)


def test_fixed_mask_limits_the_metric_to_the_brain(affine_2mm, brain_points):
    fixed, moving, truth = affine_2mm
    mask = fixed.with_array((fixed.array > 0.05 * fixed.array.max()).astype(np.uint8))
    result = register(fixed, moving, "affine", "mse", fixed_mask=mask, moving_mask=moving.with_array(
        (moving.array > 0.05 * moving.array.max()).astype(np.uint8)))
    assert cases.tre(result.matrix, truth, brain_points).mean() < 0.05


def test_composite_rigid_affine_bspline_in_one_call(brain_points):
    fixed, moving, truth = cases.affine_case("2mm")   # the chain must find the affine and add no warp
    chain = register(fixed, moving, ["rigid", "affine", "bspline"], "mse")
    assert chain.displacement.shape == fixed.array.shape + (3,)
    points = brain_points[::101]
    ijk = np.round(points / 2).astype(int)
    found = points + chain.displacement[ijk[:, 2], ijk[:, 1], ijk[:, 0]]
    expected = points @ truth[:3, :3].T + truth[:3, 3]
    assert np.linalg.norm(found - expected, axis=1).mean() < 0.3 and chain.folding_fraction() < 0.001


@pytest.mark.parametrize("diffeomorphic,optimizer,iterations", [(False, "sgd", [100, 60, 40]),
                                                                (True, "adam", [60, 20, 5])])
def test_dense_field_improves_overlap_of_the_deformable_case(diffeomorphic, optimizer, iterations):
    fixed, moving, fixed_labels, moving_labels, _ = cases.deformable_case()
    result = register(fixed, moving, "dense", "mse", diffeomorphic=diffeomorphic, optimizer=optimizer,
                      iterations=iterations)
    after = cases.mean_dice(fixed_labels.array, result.resample(moving_labels, "nearest").array)
    assert after > 0.85 and result.folding_fraction() < 0.001, after   # before: 0.742


def test_progress_events_history_and_cancel():
    fixed, moving = cases.pair_2d("A")
    events = []
    result = register(fixed, moving, "translation", "mse", progress=events.append)
    assert events == result.loss_history and {"stage", "level", "iteration", "loss"} <= set(events[0])
    assert [e["level"] for e in events][-1] == 2 and events[-1]["loss"] < events[0]["loss"]
    seen = []
    with pytest.raises(Cancelled):
        register(fixed, moving, "translation", "mse", progress=seen.append, cancel=lambda: len(seen) >= 5)
    assert len(seen) == 5


def test_same_seed_repeats_exactly_and_another_seed_differs():
    fixed, moving = cases.pair_2d("B")
    a, b = (register(fixed, moving, "rigid", "mse", seed=3) for _ in range(2))
    c = register(fixed, moving, "rigid", "mse", seed=4)
    assert np.array_equal(a.matrix, b.matrix) and not np.array_equal(a.matrix, c.matrix)


def test_bad_input_is_refused_before_work(affine_2mm):
    fixed, moving, _ = affine_2mm
    with pytest.raises(InputError, match="NaN"):
        register(fixed, moving.with_array(np.full_like(moving.array, np.nan)))
    with pytest.raises(InputError, match="constant"):
        register(fixed, moving.with_array(np.zeros_like(moving.array)))
    with pytest.raises(InputError, match="2D"):
        register(fixed, cases.slice_2d("BrainProtonDensitySliceBorder20.png"))
    with pytest.raises(InputError, match="another grid"):
        register(fixed, moving, fixed_mask=Volume(np.ones((5, 5, 5), np.uint8)))
    with pytest.raises(InputError, match="last one"):
        register(fixed, moving, ["bspline", "affine"])
    for bad in (dict(transform="warp"), dict(metric="cc"), dict(optimizer="lbfgs"), dict(levels=0),
                dict(iterations=[10, 10])):
        with pytest.raises(InputError):
            register(fixed, moving, **{"transform": "affine", **bad})


def test_cli_writes_transform_image_and_json_line(tmp_path, capsys):
    fixed, moving = (str(itk_example(n)) for n in ("BrainProtonDensitySliceBorder20.png",
                                                   "BrainProtonDensitySliceShifted13x17y.png"))
    out = tmp_path / "shift.tfm"
    code = main(["register", fixed, moving, "--transform", "translation", "--metric", "mse", "--optimizer", "sgd",
                 "--output-transform", str(out), "--output-image", str(tmp_path / "moved.nii.gz"), "--json"])
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and set(line) == {"transform", "output_type", "metric", "final_loss", "iterations", "seconds",
                                       "parameters"} and line["output_type"] == "linear"
    matrix = np.array(line["parameters"])
    assert matrix.shape == (3, 3) and np.allclose(matrix[:2, 2], [13, 17], atol=0.01)
    assert np.allclose(sitk.ReadTransform(str(out)).TransformPoint((0.0, 0.0)), (13, 17), atol=0.01)
    assert Volume.read(tmp_path / "moved.nii.gz").array.shape == (257, 221)


def test_cli_reports_bad_input_without_traceback(tmp_path, capsys):
    code = main(["register", str(tmp_path / "missing.nii.gz"), str(tmp_path / "b.nii.gz"),
                 "--output-transform", str(tmp_path / "t.tfm")])
    err = capsys.readouterr().err
    assert code == 2 and "File not found" in err and "Traceback" not in err
    assert not (tmp_path / "t.tfm").exists()
