"""Per-slice boxes to 3D lesions: boxes on neighbouring slices that overlap are linked into one lesion,
its in-plane box is the score-weighted mean of its slice boxes and its score the mean of its two best
slice scores (a lesion seen on one slice only gets half its score); 3D NMS then removes duplicates."""
from __future__ import annotations

import numpy as np
import torch
from monai.data.box_utils import box_iou, non_max_suppression

from ...boxes import to_physical
from ...volume import Volume


def _iou2d(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return box_iou(torch.as_tensor(a[None], dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64))[0].numpy()


def link_slices(per_slice: dict[int, tuple[np.ndarray, np.ndarray]], link_iou: float = 0.3,
                max_gap: int = 1) -> list[list[tuple[int, np.ndarray, float]]]:
    """Tracks of (slice, box, score): each box joins the best-overlapping track that ended at most
    `max_gap` + 1 slices before, else starts a new one."""
    tracks: list[list[tuple[int, np.ndarray, float]]] = []
    for k in sorted(per_slice):
        boxes, scores = per_slice[k]
        open_tracks = [t for t in tracks if 0 < k - t[-1][0] <= max_gap + 1]
        taken: set[int] = set()
        for i in np.argsort(-scores):
            ious = _iou2d(boxes[i], np.array([t[-1][1] for t in open_tracks])) if open_tracks else np.zeros(0)
            ious[list(taken)] = 0
            best = int(np.argmax(ious)) if len(ious) else -1
            if best >= 0 and ious[best] >= link_iou:
                open_tracks[best].append((k, boxes[i], float(scores[i])))
                taken.add(best)
            else:
                tracks.append([(k, boxes[i], float(scores[i]))])
    return tracks


def fuse(track: list[tuple[int, np.ndarray, float]]) -> tuple[np.ndarray, float]:
    """([x0, y0, k0, x1, y1, k1] in continuous grid coordinates, score) of one track."""
    ks = np.array([k for k, _, _ in track], float)
    boxes = np.array([b for _, b, _ in track])
    scores = np.array([s for _, _, s in track])
    plane = (boxes * scores[:, None]).sum(0) / scores.sum()
    score = float(np.sort(scores)[::-1][:2].sum() / 2)
    return np.array([plane[0], plane[1], ks.min(), plane[2], plane[3], ks.max() + 1]), score


def merge_slices(per_slice: dict[int, tuple[np.ndarray, np.ndarray]], grid: Volume, nms_iou: float = 0.2,
                 link_iou: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """(boxes (n, 6) LPS mm, scores (n,)) sorted by score, from per-slice (boxes (m, 4), scores (m,))."""
    fused = [fuse(t) for t in link_slices(per_slice, link_iou)]
    if not fused:
        return np.zeros((0, 6)), np.zeros(0)
    boxes = np.array([b for b, _ in fused])
    scores = np.array([s for _, s in fused])
    keep = non_max_suppression(torch.as_tensor(boxes), torch.as_tensor(scores), nms_iou).numpy()
    return to_physical(boxes[keep], grid), scores[keep]
