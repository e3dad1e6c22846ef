"""Gradient-descent image registration written on torch.

    from gdbackend.register import register
    result = register(fixed, moving, ["rigid", "affine", "bspline"], metric="mse")
    result.save("warp.h5"); warped = result.resample(moving)

The options (options.RegistrationOptions) import without torch; the engine loads when first used.
"""
from ..lazy import lazy_exports
from .options import METRICS, OPTIMIZERS, TRANSFORMS, RegistrationOptions

__all__ = ["register", "RegistrationOptions", "RegistrationResult", "TRANSFORMS", "METRICS", "OPTIMIZERS"]

# `register` and `RegistrationResult` load torch
__getattr__ = lazy_exports(__name__, {"register": "engine", "RegistrationResult": "result"})
