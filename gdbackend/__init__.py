"""GDImaging backend: gradient-descent image analysis on `Volume`s, with no Slicer imports."""
from .errors import Cancelled, GDError, InputError, ModelError, ResourceError

__version__ = "0.1.0"
__all__ = ["Volume", "GDError", "InputError", "ModelError", "ResourceError", "Cancelled", "__version__"]


def __getattr__(name: str):
    """`Volume`, imported (with SimpleITK) on first use, so that `gd --help` and the panels' option lists start
    without it."""
    if name == "Volume":
        from .volume import Volume
        return Volume
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
