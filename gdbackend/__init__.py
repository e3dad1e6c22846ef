"""GDImaging backend: gradient-descent image analysis on `Volume`s, with no Slicer imports."""
from .errors import Cancelled, GDError, InputError, ModelError, ResourceError
from .volume import Volume

__version__ = "0.1.0"
__all__ = ["Volume", "GDError", "InputError", "ModelError", "ResourceError", "Cancelled", "__version__"]
