"""Gradient-descent image registration written on torch.

    from gdbackend.register import register
    result = register(fixed, moving, ["rigid", "affine", "bspline"], metric="mse")
    result.save("warp.h5"); warped = result.resample(moving)
"""
from .deformable import DEFORMABLE
from .engine import register
from .linear import LINEAR
from .metrics import METRICS
from .optimizers import OPTIMIZERS
from .result import RegistrationResult

TRANSFORMS = LINEAR + DEFORMABLE
__all__ = ["register", "RegistrationResult", "TRANSFORMS", "METRICS", "OPTIMIZERS"]
