"""Registration cases with known answers, built from the real sample data, for the tests, the demo and
the benchmark (same recipe and seeds as the peer benchmark of SimpleITK, elastix and ANTs, so figures
compare one to one).

A  PD slice / the same slice shifted by (13, 17) px                       truth: translation (13, 17)
B  PD slice / the same slice rotated 10 deg and shifted (R10X13Y17)       truth: 10 deg, best-fit translation
C  T1 slice / PD slice shifted by (13, 17) (multimodal, MI)              truth: translation (13, 17)
D  Colin27 brain / the same under a known affine + 2 % noise (1 or 2 mm)  truth: the affine (TRE)
E  Colin27 brain 2 mm / the same under a known cubic B-spline warp        truth: AAL labels (Dice)
Built once into a cache folder beside the sample data.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from ..sample_data import data_root, itk_example, mricron
from ..volume import Volume, write_atomic

CACHE = Path(os.environ.get("GDIMAGING_CASES", data_root().parent / "cases"))
# B: a dense Powell fit of the pair (peer harness make_cases.py; SimpleITK, elastix and ANTs agree to
# +-0.01 px) gives 10.0004 deg and this translation about the image centre; the nominal (13, 17) is ~1 px off.
B_CENTER = np.array([110.0, 128.0])
B_TRANSLATION = np.array([13.093, 15.922])
D_ROT_DEG = (8.0, -5.0, 6.0)
D_SCALE = (1.05, 0.95, 1.00)
D_SHEAR = ((1.0, 0.03, 0.0), (0.0, 1.0, 0.02), (0.0, 0.0, 1.0))
D_TRANS = (7.0, -5.0, 4.0)
E_MESH, E_MAX_MM, E_SEED = (5, 5, 5), 6.0, 3
PAD_Z_MM = 16          # Colin27's cerebellum touches the bottom of its field of view


def slice_2d(name: str) -> Volume:
    """An ITK example slice as float32 with spacing 1 and origin 0."""
    v = Volume.read(itk_example(name))
    return Volume(v.array.astype(np.float32))


def pair_2d(case: str) -> tuple[Volume, Volume]:
    fixed = {"A": "BrainProtonDensitySliceBorder20.png", "B": "BrainProtonDensitySliceBorder20.png",
             "C": "BrainT1SliceBorder20.png"}[case]
    moving = {"A": "BrainProtonDensitySliceShifted13x17y.png", "B": "BrainProtonDensitySliceR10X13Y17.png",
              "C": "BrainProtonDensitySliceShifted13x17y.png"}[case]
    return slice_2d(fixed), slice_2d(moving)


def rigid_2d_errors(matrix: np.ndarray) -> tuple[float, float]:
    """(angle error in degrees vs 10, translation error in px vs the best fit about the image centre)."""
    a, o = matrix[:2, :2], matrix[:2, 2]
    u, _, vt = np.linalg.svd(a)
    r = u @ vt
    angle = np.degrees(np.arctan2(r[1, 0], r[0, 0]))
    t = o - B_CENTER + a @ B_CENTER
    return abs(angle - 10.0), float(np.linalg.norm(t - B_TRANSLATION))


def _brain(name: str) -> sitk.Image:
    im = sitk.DICOMOrient(sitk.ReadImage(str(mricron(name))), "LPS")
    im = sitk.ConstantPad(im, (0, 0, PAD_Z_MM), (0, 0, 0), 0)
    im.SetOrigin((0.0, 0.0, 0.0))
    return im


def _rot(axis: int, deg: float) -> np.ndarray:
    c, s = np.cos(np.radians(deg)), np.sin(np.radians(deg))
    return [np.array([[1, 0, 0], [0, c, -s], [0, s, c]]), np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]]),
            np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])][axis]


def _grid_2mm(im: sitk.Image) -> sitk.Image:
    size = (np.array(im.GetSize()) - 1) // 2 + 1
    ref = sitk.Image([int(s) for s in size], sitk.sitkFloat32)
    ref.SetSpacing((2.0, 2.0, 2.0))
    return ref


def _resample(im: sitk.Image, ref: sitk.Image, interp: int, tx: sitk.Transform | None = None) -> sitk.Image:
    return sitk.Resample(im, ref, tx or sitk.Transform(), interp, 0.0, im.GetPixelID())


def _write(image: sitk.Image, path: Path) -> None:
    write_atomic(path, lambda tmp: sitk.WriteImage(image, str(tmp), True))


def _cached(name: str) -> Path:
    CACHE.mkdir(parents=True, exist_ok=True)
    return CACHE / name


def affine_case(resolution: str) -> tuple[Volume, Volume, np.ndarray]:
    """Case D: (fixed, moving, true 4x4 map fixed point -> moving point)."""
    m = _rot(2, D_ROT_DEG[2]) @ _rot(1, D_ROT_DEG[1]) @ _rot(0, D_ROT_DEG[0]) @ np.array(D_SHEAR) @ np.diag(D_SCALE)
    brain = sitk.Cast(_brain("ch2bet.nii.gz"), sitk.sitkFloat32)
    c = (np.array(brain.GetSize()) - 1) / 2.0
    truth = np.eye(4)
    truth[:3, :3] = m
    truth[:3, 3] = c + np.array(D_TRANS) - m @ c
    fpath, mpath = _cached(f"D_fixed_{resolution}.nii.gz"), _cached(f"D_moving_{resolution}.nii.gz")
    if not mpath.exists():
        fixed = brain if resolution == "1mm" else _resample(sitk.SmoothingRecursiveGaussian(brain, 0.85),
                                                             _grid_2mm(brain), sitk.sitkLinear)
        t = sitk.AffineTransform(3)
        t.SetMatrix(m.ravel().tolist())
        t.SetCenter(c.tolist())
        t.SetTranslation(list(D_TRANS))
        moving = _resample(fixed, fixed, sitk.sitkLinear, t.GetInverse())
        arr = sitk.GetArrayFromImage(moving)
        values = sitk.GetArrayFromImage(brain)
        sd = 0.02 * float(np.percentile(values[values > 0], 99))
        arr = arr + np.random.default_rng(1 if resolution == "1mm" else 2).normal(0, sd, arr.shape).astype(np.float32)
        noisy = sitk.GetImageFromArray(arr.astype(np.float32))
        noisy.CopyInformation(fixed)
        _write(fixed, fpath)
        _write(noisy, mpath)
    return Volume.read(fpath), Volume.read(mpath), truth


def brain_points_1mm() -> np.ndarray:
    """Physical points (N, 3) of every brain voxel of Colin27 at 1 mm, where TRE is measured."""
    mask = sitk.GetArrayFromImage(_brain("ch2bet.nii.gz")) > 0
    return np.argwhere(mask)[:, ::-1].astype(np.float64)


def tre(matrix: np.ndarray, truth: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Target registration error (mm) of each point."""
    d = points.shape[1]
    return np.linalg.norm(points @ (matrix[:d, :d] - truth[:d, :d]).T + (matrix[:d, d] - truth[:d, d]), axis=1)


def deformable_truth() -> sitk.BSplineTransform:
    """Case E's warp W: moving(y) = fixed(W(y)), so the registration T (fixed -> moving) solves W(T(x)) = x."""
    paths = _deformable_base()
    fixed = sitk.ReadImage(str(paths[0]))
    bs = sitk.BSplineTransformInitializer(fixed, E_MESH, 3)
    p = np.random.default_rng(E_SEED).normal(0, 1, len(bs.GetParameters()))
    bs.SetParameters(p.tolist())
    field = sitk.GetArrayFromImage(sitk.TransformToDisplacementField(
        bs, sitk.sitkVectorFloat64, fixed.GetSize(), fixed.GetOrigin(), fixed.GetSpacing(), fixed.GetDirection()))
    mask = sitk.GetArrayFromImage(sitk.ReadImage(str(paths[4]))) > 0
    bs.SetParameters((p * E_MAX_MM / np.linalg.norm(field, axis=-1)[mask].max()).tolist())
    return bs


def _deformable_base() -> list[Path]:
    """Case E files (fixed, moving, fixed AAL labels, moving AAL labels, brain mask) at 2 mm; the
    unwarped ones are built here, once."""
    names = [_cached(n) for n in ("E_fixed.nii.gz", "E_moving.nii.gz", "E_fixed_labels.nii.gz",
                                  "E_moving_labels.nii.gz", "E_mask.nii.gz")]
    if not names[4].exists():
        brain = sitk.Cast(_brain("ch2bet.nii.gz"), sitk.sitkFloat32)
        ref = _grid_2mm(brain)
        _write(_resample(sitk.SmoothingRecursiveGaussian(brain, 0.85), ref, sitk.sitkLinear), names[0])
        _write(_resample(_brain("aal.nii.gz"), ref, sitk.sitkNearestNeighbor), names[2])
        _write(_resample(sitk.Cast(brain > 0, sitk.sitkUInt8), ref, sitk.sitkNearestNeighbor), names[4])
    return names


def deformable_case_paths() -> list[Path]:
    """Case E files, the warped ones included."""
    names = _deformable_base()
    if not names[1].exists():
        warp = deformable_truth()
        fixed, labels = sitk.ReadImage(str(names[0])), sitk.ReadImage(str(names[2]))
        _write(_resample(labels, labels, sitk.sitkNearestNeighbor, warp), names[3])
        _write(_resample(fixed, fixed, sitk.sitkLinear, warp), names[1])
    return names


def deformable_case() -> tuple[Volume, Volume, Volume, Volume, Volume]:
    """Case E: (fixed, moving, fixed AAL labels, moving AAL labels, brain mask) at 2 mm."""
    return tuple(Volume.read(p) for p in deformable_case_paths())


def mean_dice(a: np.ndarray, b: np.ndarray) -> float:
    """Mean Dice over the labels of `a` (> 0)."""
    scores = []
    for label in np.unique(a[a > 0]):
        x, y = a == label, b == label
        scores.append(2.0 * np.logical_and(x, y).sum() / (x.sum() + y.sum()))
    return float(np.mean(scores))
