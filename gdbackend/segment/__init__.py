"""U-Net segmentation with MONAI, trained by the shared engine (`gdbackend.train`).

    from gdbackend.segment import parse_labels, load_cases, train_segmentation, load_model, predict, evaluate
    labels = parse_labels("1:brain")
    result, card = train_segmentation(load_cases("data/"), [], labels, TrainConfig(epochs=50), "brain.pt")
    model, card = load_model("brain.pt")
    mask = predict(model, card, Volume.read("head.nii.gz"), largest_component=True)
    scores = evaluate(mask, truth, card["labels"])     # dice/iou/hd95 per label and mean
"""
from .data import Case, check_case, find_pairs, load_cases, split
from .inference import TASK, keep_largest_components, load_model, predict
from .labels import parse_labels
from .losses import LOSSES, build_loss
from .metrics import METRICS, evaluate, write_csv
from .networks import build_network, network_arguments
from .preprocess import NORMALISATIONS
from .train import train_segmentation

__all__ = ["Case", "LOSSES", "METRICS", "NORMALISATIONS", "TASK", "build_loss", "build_network", "check_case",
           "evaluate", "find_pairs", "keep_largest_components", "load_cases", "load_model", "network_arguments",
           "parse_labels", "predict", "split", "train_segmentation", "write_csv"]
