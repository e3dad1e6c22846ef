"""Registration as a job: image files in, an ITK transform file (and the resampled image) out."""
from __future__ import annotations

from pathlib import Path

from ..register import register
from ..volume import Volume

DEFAULT_ITERATIONS = 300  # per level, for progress estimates when the spec leaves iterations to register()


def run(inputs: dict[str, Path], options: dict, outputs: dict[str, Path], context) -> dict:
    options = dict(options)
    stages = options.pop("transform", "affine")
    stages = [s.strip() for s in stages.split(",") if s.strip()] if isinstance(stages, str) else list(stages)
    fixed, moving = Volume.read(inputs["fixed"]), Volume.read(inputs["moving"])
    masks = {f"{k}": Volume.read(inputs[k]) for k in ("fixed_mask", "moving_mask") if k in inputs}
    levels = int(options.get("levels", 3))
    per_level = _per_level(options.get("iterations"), levels)
    blocks = [(s, lv) for s in range(len(stages)) for lv in range(levels)]
    steps = [0]

    def progress(event: dict) -> None:
        steps[0] += 1
        block = blocks.index((stages.index(event["stage"]), event["level"]))
        within = min((event["iteration"] + 1) / per_level[event["level"]], 1.0)
        context.progress((block + within) / len(blocks), loss=event["loss"], stage=event["stage"],
                         level=event["level"], iteration=event["iteration"], step=steps[0])

    result = register(fixed, moving, stages, **options, **masks, progress=progress, cancel=context.cancelled)
    result.save(outputs["transform"])
    if "image" in outputs:
        result.resample(moving).write(outputs["image"])
    return result.summary()


def _per_level(iterations, levels: int) -> list[int]:
    if iterations is None:
        return [DEFAULT_ITERATIONS] * levels
    if isinstance(iterations, (list, tuple)):
        return [max(int(i), 1) for i in iterations] + [DEFAULT_ITERATIONS] * max(levels - len(iterations), 0)
    return [max(int(iterations), 1)] * levels
