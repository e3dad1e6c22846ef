"""Lesion regions to boxes: each connected region of a lesion probability map becomes one box in LPS mm,
scored by its highest probability."""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from ...boxes import index_box
from ...volume import Volume

CANDIDATE = 0.1   # probability above which voxels form a candidate region (FROC counts low scores too)


def regions_to_boxes(probability: np.ndarray, grid: Volume,
                     threshold: float = CANDIDATE) -> tuple[np.ndarray, np.ndarray]:
    """(boxes (n, 6) LPS mm, scores (n,)), best first: one box per connected region (26-connected) of
    `probability` (a KJI array on `grid`) > threshold, around its voxels above half the region's peak (so that a
    faint halo does not inflate the box), scored by the peak."""
    regions, _ = ndimage.label(probability > threshold, structure=np.ones((3,) * probability.ndim))
    boxes, scores = [], []
    for n, where in enumerate(ndimage.find_objects(regions), start=1):
        p = np.where(regions[where] == n, probability[where], 0.0)
        peak = float(p.max())
        kji = np.argwhere(p >= peak / 2) + [s.start for s in where]
        boxes.append(index_box(grid, kji.min(0)[::-1].astype(float), kji.max(0)[::-1].astype(float)))
        scores.append(peak)
    order = np.argsort(-np.array(scores), kind="stable")
    return np.array(boxes, float).reshape(-1, 6)[order], np.array(scores, float)[order]
