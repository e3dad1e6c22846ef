"""Detection as jobs: train a detector on images with lesion label maps; lesion boxes (LPS mm) with scores
from an image and a model file."""
from __future__ import annotations

from pathlib import Path

from ..detect import DEFAULT_ARCHITECTURE, DetectionCase, check_options, detect_volume, load_detector, train_detector
from ..detect.box_lists import write_boxes
from ..errors import InputError
from ..train.options import training_config
from ..volume import Volume
from .training import progress_events, raise_if_cancelled, training_cases


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


def train(inputs: dict[str, Path], options: dict, outputs: dict[str, Path], context) -> dict:
    """A detector from a folder of cases (option "data") or one image with its lesion label map: each
    connected component of a label map is a lesion. The U-Net detector unless option "architecture" names
    another (gd detect train's list)."""
    architecture = options.get("architecture", DEFAULT_ARCHITECTURE)
    shape = {k: (tuple(options[k]) if k in ("spacing", "patch_size") else options[k])
             for k in ("spacing", "size", "patch_size", "patches_per_volume", "crop") if options.get(k) is not None}
    check_options(architecture, **shape)
    train_cases, val_cases = training_cases(inputs, options)
    config = training_config(options, "detect", "cpm" if val_cases else None)
    result, card = train_detector([DetectionCase(c.name, c.image, c.label) for c in train_cases],
                                  [DetectionCase(c.name, c.image, c.label) for c in val_cases],
                                  config, outputs["model"], architecture=architecture, **shape,
                                  min_size_mm=float(options.get("min_size_mm", 0.0)),
                                  augment=bool(options.get("augment", True)), on_event=progress_events(context),
                                  cancel=context.cancelled)
    raise_if_cancelled(context)
    return {"architecture": architecture, "epochs": len(result.history), "final_loss": result.history[-1]["loss"],
            "best": result.best, "train_cases": len(train_cases), "val_cases": len(val_cases)}
