"""Per-slice boxes to 3D lesions: boxes on neighbouring slices that overlap are linked into one lesion,
its in-plane box is the score-weighted mean of its slice boxes and its score the mean of its two best
slice scores (a lesion seen on one slice only gets half its score); 3D NMS then removes duplicates."""
from __future__ import annotations

import numpy as np
import torch
from monai.data.box_utils import box_iou

from ...boxes import to_physical
from ...volume import Volume
from ..metrics import iou_matrix


def link_slices(per_slice: dict[int, tuple[np.ndarray, np.ndarray]], link_iou: float = 0.3,
                max_gap: int = 1) -> list[list[tuple[int, np.ndarray, float]]]:
    """Tracks of (slice, box, score): each box, best score first, joins the best-overlapping track not yet
    taken on its slice that ended at most `max_gap` + 1 slices before, else starts a new one."""
    tracks: list[list[tuple[int, np.ndarray, float]]] = []
    reachable: list[int] = []     # tracks that may still grow, oldest first (ties go to the oldest)
    for k in sorted(per_slice):
        boxes, scores = per_slice[k]
        reachable = [t for t in reachable if k - tracks[t][-1][0] <= max_gap + 1]
        # one overlap matrix a slice (boxes x reachable tracks): a track's end box only changes when it is
        # taken, and a taken track's column is zeroed
        ious = iou_matrix(boxes, np.array([tracks[t][-1][1] for t in reachable]))
        started = []
        for i in np.argsort(-scores):
            best = int(np.argmax(ious[i])) if len(reachable) else -1
            if best >= 0 and ious[i, best] >= link_iou:
                tracks[reachable[best]].append((k, boxes[i], float(scores[i])))
                ious[:, best] = 0
            else:
                started.append(len(tracks))
                tracks.append([(k, boxes[i], float(scores[i]))])
        reachable += started
    return tracks


def fuse(track: list[tuple[int, np.ndarray, float]]) -> tuple[np.ndarray, float]:
    """([x0, y0, k0, x1, y1, k1] in continuous grid coordinates, score) of one track."""
    ks = np.array([k for k, _, _ in track], float)
    boxes = np.array([b for _, b, _ in track])
    scores = np.array([s for _, _, s in track])
    plane = (boxes * scores[:, None]).sum(0) / scores.sum()
    score = float(np.sort(scores)[::-1][:2].sum() / 2)
    return np.array([plane[0], plane[1], ks.min(), plane[2], plane[3], ks.max() + 1]), score


def greedy_nms(boxes: np.ndarray, scores: np.ndarray, iou: float, block: int = 512) -> np.ndarray:
    """Indices of the boxes greedy NMS keeps, best first: a box goes when a kept, better-scored box overlaps
    it by more than `iou` (MONAI's non_max_suppression, whose loop over every kept box took seconds for the
    thousands of tracks of an untrained or permissive detector). Blocks of `block` boxes, best first, are
    checked against the boxes kept before them in one matrix, then among themselves.

    Args:
        boxes: (n, 2 * d) corners [low..., high...], any d.
        scores: (n,).
    """
    order = torch.argsort(torch.as_tensor(scores), descending=True).numpy()
    ranked = torch.as_tensor(boxes, dtype=torch.float64)[order]
    kept: list[int] = []
    for start in range(0, len(order), block):
        candidates = ranked[start:start + block]
        alive = np.ones(len(candidates), bool)
        if kept:
            alive &= ~(box_iou(candidates, ranked[kept]) > iou).any(1).numpy()
        overlaps = (box_iou(candidates, candidates) > iou).numpy()
        for i in np.flatnonzero(alive):
            if alive[i]:
                kept.append(start + int(i))
                alive[i + 1:] &= ~overlaps[i, i + 1:]
    return order[kept]


def merge_slices(per_slice: dict[int, tuple[np.ndarray, np.ndarray]], grid: Volume, nms_iou: float = 0.2,
                 link_iou: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """(boxes (n, 6) LPS mm, scores (n,)) sorted by score, from per-slice (boxes (m, 4), scores (m,))."""
    fused = [fuse(t) for t in link_slices(per_slice, link_iou)]
    if not fused:
        return np.zeros((0, 6)), np.zeros(0)
    boxes = np.array([b for b, _ in fused])
    scores = np.array([s for _, s in fused])
    keep = greedy_nms(boxes, scores, nms_iou)
    return to_physical(boxes[keep], grid), scores[keep]
