"""The engine's fast paths give what the plain ones give: reading an image at points in one batch per thread is
grid_sample on one batch, values and gradients; a pyramid level is the image smoothed by a Gaussian of half the new
spacing (scipy's), taken at every other voxel where ITK's Shrink takes them; the Parzen windows' four taps are the
cubic B-spline kernel itself, and their bins span the tissue's intensities."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import ndimage

from gdbackend.register.bspline import cubic_bspline, cubic_bspline_taps
from gdbackend.register.metrics import intensity_span
from gdbackend.register.pyramid import make_pyramid
from gdbackend.register.sample import affine_case
from gdbackend.register.sampling import read_at
from gdbackend.register.threads import POINTS_PER_THREAD
from gdbackend.sample_data import itk_example
from gdbackend.volume import Volume


@pytest.mark.parametrize("dim, channels, mode", [(2, 1, "bilinear"), (3, 3, "bilinear"), (3, 1, "nearest")])
def test_reading_points_in_one_batch_per_thread_is_grid_sample(dim, channels, mode):
    gen = torch.Generator().manual_seed(0)
    image = torch.rand(1, channels, *(17, 23, 19)[:dim], generator=gen)
    n = 3 * POINTS_PER_THREAD + 5          # not a multiple of the threads
    points = (torch.rand(n, dim, generator=gen) * 2.4 - 1.2).requires_grad_()   # some outside the image
    grid = points.reshape(1, *([1] * (dim - 1)), n, dim)
    plain = F.grid_sample(image, grid, mode=mode, padding_mode="zeros", align_corners=True).reshape(channels, n)
    before = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        split = read_at(image, points, mode)
    finally:
        torch.set_num_threads(before)
    assert split.shape == (channels, n)
    torch.testing.assert_close(split, plain, rtol=0, atol=0)
    if mode == "bilinear":
        weights = torch.rand(channels, n, generator=gen)
        grads = [torch.autograd.grad((v * weights).sum(), points)[0] for v in (plain, split)]
        torch.testing.assert_close(grads[1], grads[0])


def test_a_pyramid_level_is_the_gaussian_of_half_its_spacing_taken_at_every_other_voxel():
    fixed, _, _ = affine_case("2mm")
    grids = make_pyramid(fixed, None, 2, torch.device("cpu"))
    coarse = grids[0].array[0, 0].numpy()
    smooth = ndimage.gaussian_filter(fixed.array.astype(np.float64), 1.0, mode="nearest", truncate=3.0)
    offsets = [((n - 1) - (n // 2 - 1) * 2) // 2 for n in smooth.shape]    # centred as ITK's Shrink centres
    expected = smooth[tuple(slice(o, o + 2 * (n // 2 - 1) + 1, 2) for o, n in zip(offsets, smooth.shape))]
    np.testing.assert_allclose(coarse, expected, rtol=0, atol=1e-5 * np.abs(expected).max())
    origin = fixed.to_sitk().TransformContinuousIndexToPhysicalPoint([float(o) for o in offsets[::-1]])
    np.testing.assert_allclose(grids[0].index_to_physical.numpy()[:3, 3], origin, atol=1e-6)
    np.testing.assert_allclose(grids[0].spacing, 2 * np.array(fixed.spacing))


def test_the_parzen_taps_are_the_cubic_bspline_kernel_at_the_four_nearest_bins():
    x = (torch.rand(5000, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 40 - 3).requires_grad_()
    first, weights = cubic_bspline_taps(x)
    knots = first[:, None] + torch.arange(4)
    assert ((x[:, None] - knots).abs() < 2).all()
    kernel = cubic_bspline(x[:, None] - knots.to(x.dtype))
    torch.testing.assert_close(weights, kernel, rtol=0, atol=1e-12)
    torch.testing.assert_close(weights.sum(1), torch.ones_like(x))
    grads = [torch.autograd.grad((w * torch.arange(1.0, 5.0, dtype=x.dtype)).sum(), x)[0] for w in (weights, kernel)]
    torch.testing.assert_close(grads[0], grads[1])


def test_mutual_information_bins_span_the_tissue_not_the_outliers():
    """The bins span the 1st to 99th percentile of a level's (masked) intensities, so that a few bright voxels take
    no bins from the tissue; an image almost all of one value (a small spot on an empty field) keeps its range."""
    slice_ = Volume.read(itk_example("BrainProtonDensitySliceBorder20.png"))
    grid = make_pyramid(slice_, None, 1, torch.device("cpu"))[-1]
    values = grid.array.numpy().ravel()
    lo, hi = intensity_span(grid)
    assert abs(lo - np.quantile(values, 0.01)) <= 1 and abs(hi - np.quantile(values, 0.99)) <= 1
    assert values.min() <= lo < hi < values.max()
    inside = Volume((slice_.array > 100).astype(np.uint8), spacing=slice_.spacing, origin=slice_.origin)
    masked = make_pyramid(slice_, inside, 1, torch.device("cpu"))[-1]
    assert intensity_span(masked)[0] > 100                  # only the voxels of the mask count
    spot = np.zeros((64, 64), np.float32)
    spot[30:32, 30:32] = 100.0
    assert intensity_span(make_pyramid(Volume(spot), None, 1, torch.device("cpu"))[-1]) == (0.0, 100.0)
