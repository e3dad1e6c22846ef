"""Image classification with MONAI ResNets and DenseNets (2D/3D) or torchvision VGGs (2D), on the whole image
or a region of interest, trained by the shared engine; see docs/classification.md."""
from .metrics import classification_metrics
from .networks import NETWORKS
from .predict import TASK, load_classifier, predict_probabilities
from .roi import roi_input
from .train import train_classifier

__all__ = ["NETWORKS", "TASK", "classification_metrics", "load_classifier", "predict_probabilities", "roi_input",
           "train_classifier"]
