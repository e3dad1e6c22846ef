"""Input checks shared by every capability, run before any work starts."""
from __future__ import annotations

import numpy as np

from .errors import InputError
from .volume import Volume


def check_intensities(volume: Volume, name: str = "image") -> None:
    """Refuse NaN/Inf and constant images, which no gradient can register or learn from."""
    a = volume.array
    if a.dtype.kind not in "biuf":
        raise InputError(f"The {name} has voxel type {a.dtype}: a real-valued scalar image is needed.")
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        bad = int((~np.isfinite(a)).sum())
        raise InputError(f"The {name} has {bad} NaN or infinite voxels: replace them (e.g. by 0) before use.")
    if a.min() == a.max():
        raise InputError(f"The {name} is constant (every voxel is {a.flat[0]}): it carries no information to use.")


def check_mask(mask: Volume, reference: Volume, name: str = "mask") -> np.ndarray:
    """A non-empty mask on the reference's grid, as a boolean array."""
    if not mask.same_grid(reference):
        raise InputError(
            f"The {name} is on another grid than its image (shape {mask.array.shape} vs {reference.array.shape}, "
            "or different spacing/origin/direction): resample it onto the image first.")
    m = mask.array > 0
    if not m.any():
        raise InputError(f"The {name} is empty (no voxel > 0): draw a mask or leave it out.")
    return m
