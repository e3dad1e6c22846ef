"""Registration as a job: image files in, an ITK transform file (and the resampled image) out. Its options are
gdbackend.register.options.RegistrationOptions's; the engine is imported when the job runs."""
from __future__ import annotations

from pathlib import Path

from ..register.options import RegistrationOptions


def run(inputs: dict[str, Path], options: dict, outputs: dict[str, Path], context) -> dict:
    from ..register.engine import register
    from ..volume import Volume

    checked = RegistrationOptions.from_values(options)
    fixed, moving = Volume.read(inputs["fixed"]), Volume.read(inputs["moving"])
    masks = {k: Volume.read(inputs[k]) for k in ("fixed_mask", "moving_mask") if k in inputs}

    def progress(event: dict) -> None:
        context.progress(event["done"] / event["steps"], loss=event["loss"], stage=event["stage"],
                         level=event["level"], iteration=event["iteration"], step=event["step"])

    result = register(fixed, moving, **masks, options=checked, progress=progress, cancel=context.cancelled)
    result.save(outputs["transform"])
    if "image" in outputs:
        result.resample(moving).write(outputs["image"])
    return result.summary()
