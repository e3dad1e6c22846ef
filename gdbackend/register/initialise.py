"""Initial alignment: image centres (ITK's GEOMETRY initialiser) or centres of mass (MOMENTS)."""
from __future__ import annotations

import numpy as np

from ..volume import Volume


def center_of(volume: Volume, mask: Volume | None, moments: bool) -> np.ndarray:
    """Physical centre of the image's extent, or of its (masked) intensity mass."""
    ip = volume.index_to_physical()
    if not moments:
        mid = (np.array(volume.size, float) - 1) / 2
        return ip[:-1, :-1] @ mid + ip[:-1, -1]
    w = np.clip(volume.array.astype(np.float64), 0, None)
    if mask is not None:
        w = w * (mask.array > 0)
    if w.sum() <= 0:
        return center_of(volume, None, False)
    idx = np.indices(w.shape, dtype=np.float64)          # [k, j, i]
    mean_kji = [(g * w).sum() / w.sum() for g in idx]
    return ip[:-1, :-1] @ np.array(mean_kji[::-1]) + ip[:-1, -1]


def initial_translation(fixed: Volume, moving: Volume, fixed_mask: Volume | None, moving_mask: Volume | None,
                        mode: str) -> np.ndarray:
    """Translation that maps the fixed centre onto the moving centre."""
    moments = mode == "moments"
    return center_of(moving, moving_mask, moments) - center_of(fixed, fixed_mask, moments)
