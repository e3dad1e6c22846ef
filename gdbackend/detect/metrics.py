"""Detection metrics on 3D boxes (LPS mm): FROC sensitivities at 1/8..8 false positives per volume (the
LUNA16 protocol, with MONAI's FROC helpers) and mAP at IoU 0.5 and COCO-style mAP over IoU 0.5:0.95
(MONAI's detection metrics). A detection hits a lesion when their IoU reaches `hit_iou`; several hits
on one lesion count once (at the best score), as in LUNA16."""
from __future__ import annotations

import logging

import numpy as np
import torch
from monai.apps.detection.metrics.coco import COCOMetric
from monai.apps.detection.metrics.matching import matching_batch
from monai.data.box_utils import box_iou
from monai.metrics import compute_froc_curve_data, compute_froc_score

FP_RATES = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Overlaps (n, m) of boxes a (n, 2 d) and b (m, 2 d), corners [low..., high...], in float64."""
    if not len(a) or not len(b):
        return np.zeros((len(a), len(b)))
    return box_iou(torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)).numpy()


def _matches(predictions: list[tuple[np.ndarray, np.ndarray]], truths: list[np.ndarray], hit_iou: float,
             ignore: list[np.ndarray] | None) -> tuple[list[np.ndarray], int, np.ndarray]:
    """(per volume, each lesion's best hit score, nan when missed or ignored; the number of lesions counted;
    the scores of all false positives). Hits on ignored lesions are neither targets nor false positives."""
    best, targets, fp = [], 0, []
    for i, ((boxes, scores), gt) in enumerate(zip(predictions, truths)):
        skip = np.zeros(len(gt), bool) if ignore is None else np.asarray(ignore[i], bool)
        hits = iou_matrix(boxes, gt) >= hit_iou
        best.append(np.array([scores[hits[:, g]].max() if hits[:, g].any() and not skip[g] else np.nan
                              for g in range(len(gt))], float))
        targets += int((~skip).sum())
        fp.append(scores[~hits.any(1)])
    return best, targets, np.concatenate(fp) if fp else np.zeros(0)


def froc(predictions: list[tuple[np.ndarray, np.ndarray]], truths: list[np.ndarray], hit_iou: float = 0.1,
         ignore: list[np.ndarray] | None = None) -> dict[str, float]:
    """Sensitivity at FP_RATES false positives per volume and their mean (the LUNA16 CPM score).
    `ignore[i]` marks lesions of volume i that count neither as targets nor as false positives when hit."""
    best, targets, fp_probs = _matches(predictions, truths, hit_iou, ignore)
    if not targets:
        return {f"sensitivity@{r:g}": float("nan") for r in FP_RATES} | {"cpm": float("nan")}
    tp_probs = np.concatenate(best)
    # MONAI (after CAMELYON16) starts its thresholds at the second-lowest score; a sentinel below every score
    # keeps the lowest-scored detection on the curve
    fps, sens = compute_froc_curve_data(np.array([*fp_probs, -1.0]), tp_probs[~np.isnan(tp_probs)], targets,
                                        len(truths))
    at = np.interp(FP_RATES, fps[::-1], sens[::-1])
    out = {f"sensitivity@{r:g}": float(s) for r, s in zip(FP_RATES, at)}
    out["cpm"] = float(compute_froc_score(fps, sens, FP_RATES))
    return out


def lesions_found(predictions: list[tuple[np.ndarray, np.ndarray]], truths: list[np.ndarray],
                  fp_per_volume: float = 1.0, hit_iou: float = 0.1,
                  ignore: list[np.ndarray] | None = None) -> list[np.ndarray]:
    """Per volume, which lesions a detection hits with a score above the operating point of `fp_per_volume`
    false positives per volume (the score of the false positive just past that many): what FROC counts
    there, lesion by lesion, to tell which kinds of lesion a detector misses. Ignored lesions are False."""
    best, _, fp = _matches(predictions, truths, hit_iou, ignore)
    allowed = int(np.floor(fp_per_volume * len(truths)))
    threshold = np.sort(fp)[::-1][allowed] if len(fp) > allowed else -np.inf
    return [~np.isnan(b) & (b > threshold) for b in best]


def coco_map(predictions: list[tuple[np.ndarray, np.ndarray]], truths: list[np.ndarray],
             ignore: list[np.ndarray] | None = None) -> dict[str, float]:
    """{"map50": AP at IoU 0.5, "map": mean AP over IoU 0.5:0.95} for the single class "lesion"."""
    metric = COCOMetric(classes=["lesion"], iou_list=(0.5,), iou_range=(0.5, 0.95, 0.05), max_detection=(100,),
                        verbose=False)
    results = matching_batch(iou_fn=iou_matrix, iou_thresholds=metric.iou_thresholds,
                             pred_boxes=[b for b, _ in predictions],
                             pred_classes=[np.zeros(len(b), int) for b, _ in predictions],
                             pred_scores=[s for _, s in predictions], gt_boxes=list(truths),
                             gt_classes=[np.zeros(len(g), int) for g in truths],
                             gt_ignore=None if ignore is None else [np.asarray(m, bool) for m in ignore])
    logging.getLogger("monai").disabled, was = True, logging.getLogger("monai").disabled
    values = metric(results)[0]
    logging.getLogger("monai").disabled = was
    return {"map50": float(values["lesion_AP_IoU_0.50_MaxDet_100"]),
            "map": float(values["mAP_IoU_0.50_0.95_0.05_MaxDet_100"])}


def detection_metrics(predictions: list[tuple[np.ndarray, np.ndarray]], truths: list[np.ndarray],
                      hit_iou: float = 0.1, ignore: list[np.ndarray] | None = None) -> dict[str, float]:
    return froc(predictions, truths, hit_iou, ignore) | coco_map(predictions, truths, ignore)


def smaller_than(truths: list[np.ndarray], min_size_mm: float) -> list[np.ndarray]:
    """Per volume, which lesions' boxes have a longest side below `min_size_mm` (to ignore them)."""
    return [(np.asarray(t).reshape(-1, 6)[:, 3:] - np.asarray(t).reshape(-1, 6)[:, :3]).max(1, initial=0) < min_size_mm
            for t in truths]
