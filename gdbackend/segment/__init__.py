"""U-Net segmentation with MONAI, trained by the shared engine (`gdbackend.train`).

    from gdbackend.segment import parse_labels, load_cases, train_segmentation, load_model, predict, evaluate
    labels = parse_labels("1:brain")
    result, card = train_segmentation(load_cases("data/"), [], labels, TrainConfig(epochs=50), "brain.pt")
    model, card = load_model("brain.pt")
    mask = predict(model, card, Volume.read("head.nii.gz"), largest_component=True)
    scores = evaluate(mask, truth, card["labels"])     # dice/iou/hd95 per label and mean

Each name loads its module (with torch and MONAI) on first use, so that `gd segment --help` and the
command's parser start without them.
"""
from ..lazy import lazy_exports

_HOMES = {"Case": "data", "check_case": "data", "find_pairs": "data", "labels_from_files": "data", "load_cases": "data",
          "split": "data",
          "TASK": "inference", "keep_largest_components": "inference", "load_model": "inference",
          "predict": "inference", "parse_labels": "labels", "LOSSES": "losses", "build_loss": "losses",
          "METRICS": "metrics", "evaluate": "metrics", "write_csv": "metrics", "build_network": "networks",
          "network_arguments": "networks", "NORMALISATIONS": "preprocess", "train_segmentation": "train"}

__all__ = sorted(_HOMES)
__getattr__ = lazy_exports(__name__, _HOMES)
