"""Detection as a job: lesion boxes (LPS mm) with scores, from an image and a model file."""
from __future__ import annotations

from pathlib import Path

from ..detect import detect_volume, load_detector
from ..detect.boxes import write_boxes
from ..errors import InputError
from ..volume import Volume


def predict(inputs: dict[str, Path], options: dict, outputs: dict[str, Path], context) -> dict:
    """Writes the boxes scoring at least `threshold` as CSV; the summary lists them as min/max corners."""
    threshold = float(options.get("threshold", 0.5))
    if not 0 <= threshold <= 1:
        raise InputError(f"The score threshold must be between 0 and 1, got {threshold}.")
    model, card = load_detector(inputs["model"], options.get("device", "auto"))
    context.progress(0.1, message="model loaded")
    boxes, scores = detect_volume(model, card, Volume.read(inputs["image"]))
    keep = scores >= threshold
    boxes, scores = boxes[keep], scores[keep]
    write_boxes(outputs["boxes"], {Path(inputs["image"]).name: (boxes, scores)})
    return {"boxes": [{"min_lps": b[:3].tolist(), "max_lps": b[3:].tolist(), "score": float(s)}
                      for b, s in zip(boxes, scores)]}
