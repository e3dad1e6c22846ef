"""Gradient-descent image registration written on torch.

    from gdbackend.register import register
    result = register(fixed, moving, ["rigid", "affine", "bspline"], metric="mse")
    result.save("warp.h5"); warped = result.resample(moving)

The options (options.RegistrationOptions) import without torch; the engine loads when first used.
"""
from .options import METRICS, OPTIMIZERS, TRANSFORMS, RegistrationOptions

__all__ = ["register", "RegistrationOptions", "RegistrationResult", "TRANSFORMS", "METRICS", "OPTIMIZERS"]


def __getattr__(name: str):
    """`register` and `RegistrationResult`, imported (with torch) on first use."""
    if name == "register":
        from .engine import register
        return register
    if name == "RegistrationResult":
        from .result import RegistrationResult
        return RegistrationResult
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
