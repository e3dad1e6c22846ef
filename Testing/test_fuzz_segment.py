"""Fuzzed input for segmentation inference (`predict`): random 2D/3D shapes, voxel types, spacings (up to
absurdly large ones), directions, NaN/Inf, constant images, one or two channels on the same or other grids,
models of the wrong dimension or channel count. Every call returns a label map on the input's grid with
the model's label values, or raises a GDError with a message (a huge model grid names the memory it needs);
never a raw torch/MONAI/SimpleITK error, and the inputs are never modified."""
from __future__ import annotations

import copy
import os

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from test_fuzz_volume import REAL, rotations

from gdbackend.errors import GDError, ResourceError
from gdbackend.segment import build_network, network_arguments, predict
from gdbackend.volume import Volume

FUZZ = settings(max_examples=int(os.environ.get("GD_FUZZ_EXAMPLES", 80)), deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
LABELS = [{"value": 3, "name": "a", "color": [1, 0, 0]}, {"value": 7, "name": "b", "color": [0, 1, 0]}]


def model(d: int, channels: int, normalisation: str) -> tuple[torch.nn.Module, dict]:
    torch.manual_seed(0)
    args = network_arguments("unet", d, channels, 3, {"channels": [4, 8], "strides": [2], "num_res_units": 0})
    card = {"task": "segment", "spatial_dims": d, "in_channels": channels, "patch": [16] * d,
            "spacing": [2.0 if d == 2 else 4.0] * d, "normalisation": normalisation, "labels": LABELS}
    return build_network("unet", args).eval(), card


@st.composite
def volumes(draw, d: int, shape: tuple[int, ...] | None = None) -> Volume:
    shape = shape or tuple(draw(st.lists(st.integers(1, 12), min_size=d, max_size=d)))
    dtype = np.dtype(draw(st.sampled_from(REAL)))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    array = (rng.normal(50, 30, shape) if dtype.kind == "f" else rng.integers(0, 2, shape) * 100).astype(dtype)
    kind = draw(st.sampled_from(["plain", "plain", "plain", "constant", "nan", "inf"]))
    if kind == "constant":
        array[...] = array.flat[0]
    elif kind in ("nan", "inf") and dtype.kind == "f":
        array.flat[draw(st.integers(0, array.size - 1))] = np.nan if kind == "nan" else -np.inf
    scale = draw(st.sampled_from([1.0, 1.0, 1.0, 1e7]))  # 1e7: a grid no machine holds
    spacing = tuple(draw(st.floats(0.05, 5.0)) * scale for _ in range(d))
    origin = tuple(draw(st.floats(-500, 500)) for _ in range(d))
    direction = draw(st.one_of(st.none(), rotations(d)))
    return Volume(array, spacing, origin, direction)


@st.composite
def cases(draw):
    d = draw(st.sampled_from([2, 3]))
    image = draw(volumes(d))
    images = [image]
    if draw(st.booleans()):  # a second channel, on the same grid or on another
        if draw(st.booleans()):
            images.append(image.with_array(draw(volumes(d, image.array.shape)).array))
        else:
            images.append(draw(volumes(d)))
    model_d = d if draw(st.sampled_from([True] * 5 + [False])) else 5 - d
    channels = len(images) if draw(st.sampled_from([True] * 5 + [False])) else 3 - len(images)
    return images, (model_d, channels, draw(st.sampled_from(["percentile", "zscore", "ct:0,100", "none"])))


@FUZZ
@given(cases(), st.booleans())
def test_predict_gives_a_label_map_or_the_projects_error(monkeypatch, case, flips):
    monkeypatch.setattr("gdbackend.resources.physical_memory", lambda: 4 * 10**9)  # the same limit everywhere
    images, (d, channels, normalisation) = case
    net, card = model(d, channels, normalisation)
    before = copy.deepcopy(images)
    try:
        label = predict(net, card, images if len(images) > 1 else images[0], flips=flips)
    except GDError as e:
        assert len(str(e)) > 20 and not str(e).startswith(("Traceback", "RuntimeError"))
        if isinstance(e, ResourceError):
            assert "GB of memory" in str(e) and "model grid" in str(e)
        event(f"refused: {type(e).__name__}: {str(e)[:40]}")
    else:
        event("segmented")
        assert label.same_grid(images[0]) and label.array.shape == images[0].array.shape
        assert set(np.unique(label.array)) <= {0, 3, 7}
    for old, new in zip(before, images):
        assert np.array_equal(old.array, new.array, equal_nan=True) and old.array.dtype == new.array.dtype
        assert old.same_grid(new)


def test_a_huge_grid_is_refused_before_any_allocation_with_the_memory_needed(monkeypatch):
    monkeypatch.setattr("gdbackend.resources.physical_memory", lambda: 16 * 10**9)
    net, card = model(3, 1, "zscore")
    image = Volume(np.random.default_rng(0).normal(size=(4, 4, 4)).astype(np.float32), (5000.0, 5000.0, 5000.0))
    with pytest.raises(ResourceError, match=r"The image on the model grid \(5000 x 5000 x 5000 voxels at 4/4/4 mm\) "
                                            r"needs about 2000.0 GB of memory, more than this machine's 16.0 GB"):
        predict(net, card, image)
