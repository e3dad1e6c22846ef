"""From any input grid to the model's space and back: a grid aligned with the LPS axes at the model's
spacing (so a model trained on axial Colin27 works on a coronal scan), and intensity normalisation."""
from __future__ import annotations

import itertools

import numpy as np
from monai.transforms import NormalizeIntensity, ScaleIntensityRange, ScaleIntensityRangePercentiles

from ..checks import check_intensities
from ..errors import InputError
from ..resources import check_memory
from ..volume import Volume

NORMALISATIONS = ("percentile", "zscore", "ct:LOW,HIGH", "none")
BYTES_PER_MODEL_VOXEL = 16  # float32 image, its resampled and normalised copies, and a share of the probabilities


def model_grid(volume: Volume, spacing: tuple[float, ...]) -> Volume:
    """An empty volume with identity direction and `spacing` that covers the physical extent of `volume`."""
    d = volume.ndim
    if len(spacing) != d:
        raise InputError(f"The model spacing {tuple(spacing)} has {len(spacing)} values but the image is {d}D: "
                         "use a model trained for this dimension.")
    m = volume.index_to_physical()
    corners = np.array([m @ np.array([*(c - 0.5 for c in corner), 1.0])
                        for corner in itertools.product(*[(0, n) for n in volume.size])])[:, :d]
    low, high = corners.min(0), corners.max(0)
    spacing = np.asarray(spacing, float)
    extent = np.maximum(np.ceil((high - low) / spacing - 1e-6), 1)
    shape = " x ".join(f"{n:.0f}" for n in extent[::-1])
    check_memory(float(np.prod(extent)) * BYTES_PER_MODEL_VOXEL,
                 f"the image on the model grid ({shape} voxels at {'/'.join(f'{v:g}' for v in spacing)} mm)")
    size = extent.astype(int)
    return Volume(np.zeros(size[::-1], np.uint8), tuple(spacing), tuple(low + spacing / 2))


def normaliser(name: str):
    """A MONAI intensity transform by name: robust 0.5-99.5 percentile range, z-score, a CT window, or none
    (for MONAI bundles that feed raw intensities)."""
    if name == "none":
        return lambda array: array
    if name == "percentile":
        return ScaleIntensityRangePercentiles(lower=0.5, upper=99.5, b_min=0.0, b_max=1.0, clip=False)
    if name == "zscore":
        return NormalizeIntensity()
    if name.startswith("ct:"):
        try:
            low, high = (float(v) for v in name[3:].split(","))
        except ValueError:
            low = high = 0.0
        if high > low:
            return ScaleIntensityRange(a_min=low, a_max=high, b_min=0.0, b_max=1.0, clip=True)
    raise InputError(f"Unknown intensity normalisation {name!r}: use one of {', '.join(NORMALISATIONS)} "
                     "(e.g. ct:-100,300 for a soft-tissue CT window).")


def image_to_model(image: Volume, spacing: tuple[float, ...], normalisation: str,
                   name: str = "image") -> tuple[Volume, Volume]:
    """(normalised float32 image on the model grid, that grid); the grid is reused for the label."""
    check_intensities(image, name)
    grid = model_grid(image, spacing)
    float_image = image.with_array(image.array.astype(np.float32))
    resampled = float_image.resample_to(grid, "linear", default=float(image.array.min()))
    array = np.asarray(normaliser(normalisation)(resampled.array[None]))[0].astype(np.float32)
    return grid.with_array(array), grid


def label_to_model(label: Volume, grid: Volume) -> Volume:
    return label.resample_to(grid, "nearest")
