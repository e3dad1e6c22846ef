"""Registration off the benchmark's easy starts: real images turned far or cropped, with known answers, ours against
SimpleITK's regular-step descent (from the image centres, 20 % random samples, mean squares) run side by side.

    python Testing/benchmarks/bench_register_hard.py [--threads 2]

Rows, rigid: ITK's PD slice turned about its centre (and shifted 5, -4 mm); ITK's two oriented copies of the PD slice
whose directions are 60 deg apart; Colin27 at 2 mm turned about z (and 10 deg about x), where ours searches the
starting rotation only when asked (`rotation_search`, off by default in 3D). Affine: case D at 2 mm with the fixed or
the moving brain cropped to its top 60 % or to the middle half front to back (partial overlap: the image centres no
longer correspond). Figures: mean error (mm) over a grid of points on the fixed image or the brain, and seconds.
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import SimpleITK as sitk
import torch
from bench_register import simpleitk_linear

from gdbackend import Volume
from gdbackend.register import register
from gdbackend.register import sample as cases
from gdbackend.sample_data import itk_example

ANGLES_2D = (0.0, 30.0, 45.0, 60.0, 90.0, 135.0, 180.0)
ANGLES_3D = (60.0, 90.0, 180.0)
SHIFT = (5.0, -4.0, 3.0)


def turned(image: sitk.Image, matrix: np.ndarray) -> tuple[sitk.Image, np.ndarray]:
    """`image` moved by `matrix` (d x d) about its centre and by SHIFT, and the true map fixed point -> moving
    point as a (d+1)x(d+1) matrix."""
    d = image.GetDimension()
    center = np.array(image.TransformContinuousIndexToPhysicalPoint((np.array(image.GetSize()) - 1) / 2.0))
    t = sitk.AffineTransform(matrix.ravel().tolist(), SHIFT[:d], center.tolist())
    truth = np.eye(d + 1)
    truth[:d, :d], truth[:d, d] = matrix, center + SHIFT[:d] - matrix @ center
    return sitk.Resample(image, image, t.GetInverse(), sitk.sitkLinear, 0.0), truth


def grid_points(image: sitk.Image, step: int) -> np.ndarray:
    """Physical points (N, d) of every `step`-th voxel of `image`."""
    d = image.GetDimension()
    index = np.stack(np.meshgrid(*[np.arange(0, n, step) for n in image.GetSize()]), -1).reshape(-1, d)
    return np.array([image.TransformContinuousIndexToPhysicalPoint(i.tolist()) for i in index.astype(float)])


def row(name: str, fixed: sitk.Image, moving: sitk.Image, truth: np.ndarray, points: np.ndarray,
        transform: str = "rigid", **options) -> None:
    t0 = time.perf_counter()
    ours = register(Volume.from_sitk(fixed), Volume.from_sitk(moving), transform, "mse", **options).matrix
    ours_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    peer = simpleitk_linear(sitk.Cast(fixed, sitk.sitkFloat32), sitk.Cast(moving, sitk.sitkFloat32),
                            transform=transform)
    peer_s = time.perf_counter() - t0
    print(f"{name:52} {cases.tre(ours, truth, points).mean():9.4f} mm {ours_s:5.2f}s | "
          f"{cases.tre(peer, truth, points).mean():9.4f} mm {peer_s:5.2f}s", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    torch.set_num_threads(p.parse_args().threads)
    print(f"{'case':52} {'ours':>20} | SimpleITK")
    slice_ = Volume(cases.slice_2d("BrainProtonDensitySliceBorder20.png").array).to_sitk()
    for degrees in ANGLES_2D:
        c, s = np.cos(np.radians(degrees)), np.sin(np.radians(degrees))
        moving, truth = turned(slice_, np.array([[c, -s], [s, c]]))
        row(f"PD slice turned {degrees:g} deg", slice_, moving, truth, grid_points(slice_, 8))
    fixed = Volume.read(itk_example("BrainProtonDensitySliceBorder20DirectionMinus30.mhd"))
    moving = Volume.read(itk_example("BrainProtonDensitySliceShifted13x17yDirectionPlus30.mhd"))
    truth = np.eye(3)
    truth[:2, :2], truth[:2, 2] = moving.direction @ fixed.direction.T, moving.direction @ [13.0, 17.0]
    row("ITK's oriented PD slices, 60 deg apart", fixed.to_sitk(), moving.to_sitk(), truth,
        grid_points(fixed.to_sitk(), 8))
    brain = cases.affine_case("2mm")[0].to_sitk()
    points = cases.brain_points_1mm()[::50]
    for degrees in ANGLES_3D:
        turn = sitk.Euler3DTransform((0.0, 0.0, 0.0), np.radians(10.0), 0.0, np.radians(degrees))
        moving, truth = turned(brain, np.array(turn.GetMatrix()).reshape(3, 3))
        for width in (None, 180.0):
            row(f"brain 2 mm turned {degrees:g} deg" + (", rotation_search 180" if width else ""), brain, moving,
                truth, points, rotation_search=width)
    fixed, moving, truth = (v.to_sitk() if isinstance(v, Volume) else v for v in cases.affine_case("2mm"))
    crops = {"top 60 %": lambda im: im[:, :, int(0.4 * im.GetSize()[2]):],
             "middle half front to back": lambda im: im[:, im.GetSize()[1] // 4:3 * im.GetSize()[1] // 4, :]}
    for name, crop in crops.items():
        row(f"D 2 mm affine, fixed cropped to {name}", crop(fixed), moving, truth, points, "affine")
        row(f"D 2 mm affine, moving cropped to {name}", fixed, crop(moving), truth, points, "affine")


if __name__ == "__main__":
    sys.exit(main())
