"""Fuzzed bad input for the core: Volume construction, read/write, resample_to, check_intensities and
check_mask over random shapes, dtypes, spacings, origins, directions, NaN/Inf, constant images, empty masks
and mismatched grids. Every call returns a correct result or raises a GDError with a message, never a raw
NumPy/SimpleITK exception, and never modifies its inputs."""
from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gdbackend.checks import check_intensities, check_mask
from gdbackend.errors import GDError, InputError, ResourceError
from gdbackend.volume import Volume

FUZZ = settings(max_examples=150, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
DTYPES = [np.bool_, np.uint8, np.int8, np.int16, np.uint16, np.int32, np.int64, np.float16, np.float32,
          np.float64, np.complex64]
REAL = DTYPES[:-1]
ANY_FLOAT = st.floats(allow_nan=True, allow_infinity=True, width=32)
SANE_FLOAT = st.floats(-100, 100, allow_nan=False, width=32)


def arrays(min_dims: int = 2, max_dims: int = 3, min_side: int = 1, max_side: int = 5):
    shapes = hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)
    return hnp.arrays(st.sampled_from(DTYPES), shapes)


@st.composite
def rotations(draw, d: int) -> np.ndarray:
    """A random orthonormal matrix (a rotation, maybe with a flip)."""
    m = np.array(draw(st.lists(SANE_FLOAT, min_size=d * d, max_size=d * d)), float).reshape(d, d) + np.eye(d)
    q, r = np.linalg.qr(m)
    return q * np.where(np.diag(r) < 0, -1.0, 1.0)


@st.composite
def directions(draw, d: int):
    """Mostly valid rotations; sometimes shears, NaN, a scaled matrix or the wrong size."""
    kind = draw(st.sampled_from(["rotation", "rotation", "none", "shear", "nan", "scaled", "size"]))
    if kind == "rotation":
        return draw(rotations(d))
    if kind == "none":
        return None
    if kind == "shear":
        m = np.eye(d)
        m[0, 1] = draw(st.floats(0.1, 2))
        return m
    if kind == "nan":
        m = np.eye(d)
        m[0, 0] = np.nan
        return m
    if kind == "scaled":
        return np.eye(d) * draw(st.floats(0.5, 2).filter(lambda s: abs(s - 1) > 0.01))
    return np.eye(d + 1)


@st.composite
def volume_args(draw, min_side: int = 1):
    array = draw(arrays(min_dims=draw(st.sampled_from([1, 2, 2, 3, 3, 4])), max_dims=4, min_side=0, max_side=5)
                 if draw(st.booleans()) else arrays(min_side=min_side))
    d = array.ndim
    n = d if draw(st.integers(0, 5)) else draw(st.integers(0, 4))
    good = st.floats(0.1, 5)
    spacing = tuple(draw(st.lists(good if draw(st.booleans()) else ANY_FLOAT, min_size=n, max_size=n)))
    origin = tuple(draw(st.lists(SANE_FLOAT if draw(st.booleans()) else ANY_FLOAT, min_size=n, max_size=n)))
    return array, spacing, origin, draw(directions(d)) if d in (2, 3) else None


@st.composite
def volumes(draw, dims: tuple[int, ...] = (2, 3), dtypes=REAL, min_side: int = 1) -> Volume:
    """A valid Volume with random geometry and values (NaN, Inf and constants included)."""
    d = draw(st.sampled_from(dims))
    array = draw(hnp.arrays(st.sampled_from(dtypes), hnp.array_shapes(min_dims=d, max_dims=d, min_side=min_side,
                                                                       max_side=6)))
    spacing = tuple(draw(st.lists(st.floats(0.2, 4), min_size=d, max_size=d)))
    origin = tuple(draw(st.lists(SANE_FLOAT, min_size=d, max_size=d)))
    return Volume(array, spacing, origin, draw(rotations(d)))


def snapshot(*values):
    return copy.deepcopy(values)


def assert_unchanged(before: tuple, after: tuple) -> None:
    for a, b in zip(before, after):
        if isinstance(a, Volume):
            assert_unchanged((a.array, a.spacing, a.origin, a.direction), (b.array, b.spacing, b.origin, b.direction))
        elif isinstance(a, np.ndarray):
            assert a.dtype == b.dtype and a.shape == b.shape
            assert np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"), "an input array was modified"
        else:
            assert a == b, "an input was modified"


def gd_error(error: GDError) -> None:
    assert isinstance(error, GDError) and len(str(error)) > 20, f"unhelpful error: {error!r}"


@FUZZ
@given(volume_args())
def test_volume_construction(args):
    array, spacing, origin, direction = args
    before = snapshot(array, spacing, origin, direction)
    try:
        v = Volume(array, spacing, origin, direction)
    except GDError as e:
        gd_error(e)
    else:
        d = array.ndim
        assert d in (2, 3) and v.array.shape == array.shape and 0 not in array.shape
        assert len(v.spacing) == len(v.origin) == d
        assert all(np.isfinite(v.spacing)) and min(v.spacing) > 0 and all(np.isfinite(v.origin))
        assert np.allclose(v.direction.T @ v.direction, np.eye(d), atol=1e-3), "a non-orthonormal direction"
        v.to_sitk()  # every accepted volume can be handed to SimpleITK
    assert_unchanged(before, snapshot(array, spacing, origin, direction))


@FUZZ
@given(volumes(), st.sampled_from([".nii.gz", ".nrrd", ".mha", ".png", ".foo"]))
def test_write_then_read_round_trip(tmp_path, volume, suffix):
    before = snapshot(volume)
    path = tmp_path / f"v{suffix}"
    try:
        volume.write(path)
    except GDError as e:
        gd_error(e)
        assert list(tmp_path.iterdir()) == [] or path.exists(), "a failed write left a temporary file"
        assert not any(p.name.startswith(".") for p in tmp_path.iterdir())
    else:
        back = Volume.read(path)
        expect = volume.array.astype(np.uint8) if volume.array.dtype == np.bool_ else volume.array
        assert np.array_equal(back.array, expect, equal_nan=expect.dtype.kind in "fc")
        if suffix != ".png":
            assert back.same_grid(volume, tol=1e-3)
    finally:
        for p in tmp_path.iterdir():
            p.unlink()
    assert_unchanged(before, snapshot(volume))


def test_reading_bad_files(tmp_path):
    for name, content in [("garbage.nii.gz", b"not an image"), ("empty.nrrd", b""), ("text.mha", b"hello\n")]:
        (tmp_path / name).write_bytes(content)
        with pytest.raises(InputError, match="Cannot read"):
            Volume.read(tmp_path / name)
    with pytest.raises(InputError, match="not found"):
        Volume.read(tmp_path / "missing.nii")
    with pytest.raises(ResourceError, match="does not exist"):
        Volume(np.zeros((2, 2))).write(tmp_path / "no" / "x.nii")


@FUZZ
@given(volumes(), volumes(), st.sampled_from(["linear", "nearest", "bspline", "cubic"]))
def test_resample_to(image, reference, interpolation):
    before = snapshot(image, reference)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            out = image.resample_to(reference, interpolation)
    except GDError as e:
        gd_error(e)
    else:
        assert out.same_grid(reference), "the result is not on the reference grid"
        if image.same_grid(reference) and interpolation == "nearest" and np.isfinite(image.array).all():
            # ITK interpolates in double precision: 64-bit integers beyond 2**53 come back rounded
            assert np.array_equal(out.array.astype(np.float64), image.array.astype(np.float64), equal_nan=True)
    assert_unchanged(before, snapshot(image, reference))


@FUZZ
@given(volumes())
def test_check_intensities(volume):
    before = snapshot(volume)
    a = volume.array
    finite_real = a.dtype.kind in "biuf" and np.isfinite(a.astype(np.float64)).all()
    informative = finite_real and a.min() != a.max()
    try:
        check_intensities(volume)
    except GDError as e:
        gd_error(e)
        assert not informative, f"an informative {a.dtype} image was refused: {e}"
    else:
        assert informative, "a NaN, infinite, constant or non-real image was accepted"
    assert_unchanged(before, snapshot(volume))


@FUZZ
@given(volumes(dtypes=[np.float32, np.uint8]), st.data())
def test_check_mask(reference, data):
    if data.draw(st.booleans()):   # on the same grid, any values (empty, NaN, bool)
        mask = reference.with_array(data.draw(hnp.arrays(st.sampled_from(REAL), reference.array.shape)))
    else:
        mask = data.draw(volumes())
    before = snapshot(mask, reference)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            m = check_mask(mask, reference)
    except GDError as e:
        gd_error(e)
    else:
        assert mask.same_grid(reference) and m.dtype == np.bool_ and m.any()
        assert np.array_equal(m, mask.array > 0)
    assert_unchanged(before, snapshot(mask, reference))
