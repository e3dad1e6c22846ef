"""Fuzzed bad input for register(): small random images (NaN, constant, integer types), masks (empty, on
another grid), mismatched dimensions and options. Every call returns a transform or raises a GDError with a
message, never a raw torch/SimpleITK exception, and never modifies its inputs."""
from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from test_fuzz_volume import assert_unchanged, gd_error, rotations, snapshot

from gdbackend.errors import GDError
from gdbackend.register import register
from gdbackend.volume import Volume

FUZZ = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def images(draw, d: int) -> Volume:
    kind = draw(st.sampled_from(["smooth", "smooth", "smooth", "nan", "constant", "noise"]))
    shape = tuple(draw(st.lists(st.integers(4, 12), min_size=d, max_size=d)))
    grid = np.indices(shape).astype(np.float32)
    centre = np.array(draw(st.lists(st.floats(0.3, 0.7), min_size=d, max_size=d)))[:, None] * np.array(shape)[:, None]
    array = np.exp(-((grid.reshape(d, -1) - centre) ** 2).sum(0) / 8).reshape(shape).astype(np.float32)
    if kind == "nan":
        array.flat[draw(st.integers(0, array.size - 1))] = np.nan
    elif kind == "constant":
        array[:] = 3
    elif kind == "noise":
        array = draw(hnp.arrays(st.sampled_from([np.uint8, np.int16, np.float64]), shape))
    spacing = tuple(draw(st.lists(st.floats(0.5, 2), min_size=d, max_size=d)))
    return Volume(array, spacing, tuple(draw(st.lists(st.floats(-5, 5), min_size=d, max_size=d))),
                  draw(rotations(d)))


@st.composite
def masks(draw, image: Volume):
    kind = draw(st.sampled_from(["none", "none", "none", "full", "empty", "other grid"]))
    if kind == "none":
        return None
    if kind == "other grid":
        return Volume(np.ones(tuple(s + 1 for s in image.array.shape), np.uint8), image.spacing, image.origin)
    return image.with_array(np.full(image.array.shape, kind == "full", np.uint8))


@FUZZ
@given(st.data())
def test_register_never_crashes_raw(data):
    d = data.draw(st.sampled_from([2, 3]))
    fixed = data.draw(images(d))
    moving = data.draw(images(data.draw(st.sampled_from([d, d, d, 5 - d]))))
    fixed_mask, moving_mask = data.draw(masks(fixed)), data.draw(masks(moving))
    transform = data.draw(st.sampled_from(["translation", "rigid", "affine", "affine", "bspline", "dense", "warp"]))
    metric = data.draw(st.sampled_from(["mse", "mse", "ncc", "mi", "nmi?"]))
    before = snapshot(fixed, moving, fixed_mask, moving_mask)
    try:
        result = register(fixed, moving, transform, metric, fixed_mask=fixed_mask, moving_mask=moving_mask,
                          levels=1, iterations=3, device="cpu", grid_spacing=8.0)
    except GDError as e:
        gd_error(e)
        event(f"refused: {type(e).__name__}")
    else:
        event("registered")
        warped = result.resample(moving)
        assert warped.same_grid(fixed) and np.isfinite(warped.array).all()
    assert_unchanged(before, snapshot(fixed, moving, fixed_mask, moving_mask))


def test_lncc_on_an_image_smaller_than_its_window_is_refused_with_a_message():
    grid = np.indices((4, 4, 4)).sum(0).astype(np.float32)
    try:
        register(Volume(grid), Volume(grid[::-1].copy()), "translation", "lncc", levels=1, iterations=2,
                 device="cpu")
    except GDError as e:
        gd_error(e)
