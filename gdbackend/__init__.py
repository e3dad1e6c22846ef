"""GDImaging backend: gradient-descent image analysis on `Volume`s, with no Slicer imports."""
from .errors import Cancelled, GDError, InputError, ModelError, ResourceError
from .lazy import lazy_exports

__version__ = "0.1.0"
__all__ = ["Volume", "GDError", "InputError", "ModelError", "ResourceError", "Cancelled", "__version__"]

# `Volume` loads SimpleITK, so that `gd --help` and the panels' option lists start without it
__getattr__ = lazy_exports(__name__, {"Volume": "volume"})
