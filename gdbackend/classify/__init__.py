"""Image classification with MONAI ResNets and DenseNets (2D/3D) or torchvision VGGs (2D), on the whole image
or a region of interest, trained by the shared engine; see docs/classification.md.

Each name loads its module (with torch and MONAI) on first use, so that `gd classify --help` starts without them.
"""
from ..lazy import lazy_exports

_HOMES = {"classification_metrics": "metrics", "NETWORKS": "networks", "TASK": "predict",
          "load_classifier": "predict", "predict_probabilities": "predict", "roi_input": "roi",
          "train_classifier": "train"}

__all__ = sorted(_HOMES)
__getattr__ = lazy_exports(__name__, _HOMES)
