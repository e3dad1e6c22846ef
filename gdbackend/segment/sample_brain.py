"""The recipe of the shipped brain-extraction model: what it is trained on and what it is tested on.

A U-Net trained on one T1 head learns "inside the bright skull ring" rather than brain tissue: given a head
that was already skull-stripped it finds under half of the brain. So the one training head (Colin27) is shown
the way users' scans differ, each variant a training case with the same brain mask:
- with its skull, skull-stripped (background exactly 0, as BET/SynthStrip write it) and loosely stripped
  (a few millimetres of CSF and dura left);
- synthesised contrasts, as SynthStrip does: the head is split into tissue classes (Otsu thresholds inside and
  outside the brain) and each class gets a random intensity (T1's order kept inside the brain), then blur,
  bias field and noise, with and without skull, so that no intensity of the scalp marks the brain;
- other fields of view: cut above the eyes, a slab missing the top of the head.
The training engine's own augmentation (rotation, scaling, flips, gamma, bias, noise) comes on top.

Tested on a person it never saw (ITK's T1, 2x2x3 mm, another scanner) in the forms users meet: as acquired,
skull-stripped, with another T1 contrast (gamma and a bias field) and with a cut field of view.
"""
from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from ..volume import Volume
from .data import Case
from .sample import colin27, itk_t1

LABELS = "1:brain"
SPACING, PATCH = 2.0, 64      # mm, voxels: ITK's T1 is 2x2x3 mm, so a finer grid gains nothing on the test
SYNTHETIC = 2                 # synthesised-contrast heads, one with skull and one stripped: more cost the
                              # plain head a few points of Dice (6 gave 0.88 against 0.90 on ITK's T1)


def _smooth(array: np.ndarray, spacing: tuple[float, ...], sigma_mm: float) -> np.ndarray:
    image = sitk.GetImageFromArray(array.astype(np.float32))
    image.SetSpacing(tuple(reversed(spacing)))
    return sitk.GetArrayFromImage(sitk.SmoothingRecursiveGaussian(image, sigma_mm))


def _dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    image = sitk.GetImageFromArray(mask.astype(np.uint8))
    return sitk.GetArrayFromImage(sitk.BinaryDilate(image, [radius] * mask.ndim)) > 0


def _otsu_classes(values: np.ndarray, n: int) -> np.ndarray:
    """Class index 0..n-1 of each value by Otsu's multiple thresholds (`values` 1D)."""
    image = sitk.GetImageFromArray(values.astype(np.float32)[None, None])
    f = sitk.OtsuMultipleThresholdsImageFilter()
    f.SetNumberOfThresholds(n - 1)
    f.Execute(image)
    return np.digitize(values, f.GetThresholds())


def tissue_classes(head: Volume, brain: np.ndarray) -> np.ndarray:
    """0 air, 1-3 brain (CSF, grey, white matter), 4-6 the rest of the head (dark bone and CSF, muscle, fat):
    the label map contrasts are synthesised from."""
    a = head.array.astype(np.float32)
    body = a > 0.1 * np.percentile(a, 99)
    body = sitk.GetArrayFromImage(sitk.BinaryFillhole(sitk.GetImageFromArray(body.astype(np.uint8)))) > 0
    classes = np.zeros(a.shape, np.uint8)
    classes[brain] = 1 + _otsu_classes(a[brain], 3)
    rest = body & ~brain
    classes[rest] = 4 + _otsu_classes(a[rest], 3)
    return classes


def synthesised(head: Volume, classes: np.ndarray, rng: np.random.Generator, strip: bool) -> Volume:
    """A head of random contrast: one random intensity per tissue class (air stays dark; inside the brain in
    T1's order, CSF < grey < white matter; the rest of the head in any order), blur of 0.5-1.5 mm, a smooth
    multiplicative bias and noise; outside the brain set to 0 when `strip`."""
    brain = np.sort(rng.uniform(0.1, 1.0, 3))
    intensity = np.concatenate([[rng.uniform(0.0, 0.1)], brain, rng.uniform(0.1, 1.0, 3)])
    a = intensity[classes].astype(np.float32)
    a = _smooth(a, head.spacing, rng.uniform(0.5, 1.5))
    coarse = rng.normal(0.0, 0.25, (4,) * a.ndim)   # a bias field from a few control values, smoothly upsampled
    bias = sitk.GetArrayFromImage(sitk.Resample(
        sitk.GetImageFromArray(coarse.astype(np.float32)), sitk.GetImageFromArray(a), sitk.ScaleTransform(
            a.ndim, [(c - 1) / (n - 1) for c, n in zip(coarse.shape[::-1], a.shape[::-1])]), sitk.sitkBSpline))
    a = a * np.exp(bias) + rng.normal(0.0, rng.uniform(0.0, 0.04), a.shape).astype(np.float32)
    a = np.clip(a, 0, None)
    if strip:
        a[classes < 1] = 0
        a[classes > 3] = 0
    return head.with_array(a.astype(np.float32))


def crop(case: Case, name: str, low: float, high: float) -> Case:
    """The part of a case between fractions `low` and `high` of its inferior-superior extent (0 = the lowest
    slice): the fields of view of scans that miss the neck or the top of the head."""
    direction = np.asarray(case.image.direction).reshape(3, 3)
    axis = int(np.argmax(np.abs(direction[2])))        # the index axis (i, j, k) closest to superior
    n = case.image.size[axis]
    lo, hi = int(round(low * n)), int(round(high * n))
    if direction[2, axis] < 0:                         # indices run downwards: count from the other end
        lo, hi = n - hi, n - lo
    index = [slice(None)] * 3
    index[axis] = slice(lo, hi)
    image, label = (v.to_sitk()[tuple(index)] for v in (case.image, case.label))
    return Case(name, Volume.from_sitk(image), Volume.from_sitk(label))


def training_cases(seed: int = 0) -> list[Case]:
    """The variants of Colin27 the shipped model is trained on (see the module docstring)."""
    colin = colin27()
    brain = colin.label.array > 0
    image = colin.image.array.astype(np.float32)
    cases = [colin,
             Case("colin27_stripped", colin.image.with_array(np.where(brain, image, 0)), colin.label),
             Case("colin27_loose", colin.image.with_array(np.where(_dilate(brain, 3), image, 0)), colin.label)]
    classes = tissue_classes(colin.image, brain)
    rng = np.random.default_rng(seed)
    cases += [Case(f"colin27_synth{i}", synthesised(colin.image, classes, rng, strip=i % 2 == 1), colin.label)
              for i in range(SYNTHETIC)]
    cases += [crop(colin, "colin27_no_neck", 0.3, 1.0), crop(colin, "colin27_slab", 0.2, 0.8)]
    return cases


def _gamma_bias(image: Volume, gamma: float) -> Volume:
    a = image.array.astype(np.float32)
    a = a / a.max()
    k = np.linspace(-1.0, 1.0, a.shape[0])[:, None, None]
    return image.with_array((a ** gamma * np.exp(0.3 * k) * 255).astype(np.float32))


def test_cases() -> list[Case]:
    """ITK's T1 (never seen in training) as users meet it: acquired, skull-stripped, another T1 contrast,
    and a field of view missing the top of the head."""
    t1 = itk_t1()
    brain = t1.label.array > 0
    return [t1,
            Case("itk_t1_stripped", t1.image.with_array(np.where(brain, t1.image.array, 0)), t1.label),
            Case("itk_t1_contrast", _gamma_bias(t1.image, 0.5), t1.label),
            crop(t1, "itk_t1_no_top", 0.0, 0.65)]
