"""Lesion detection with torchvision's Faster R-CNN on 2.5D slices, merged into 3D boxes in LPS mm;
see docs/detection.md."""
from .data import DetectionCase, read_cases, truth_boxes
from .metrics import coco_map, detection_metrics, froc
from .model import ARCHITECTURES
from .predict import TASK, detect_volume, load_detector
from .train import train_detector

__all__ = ["ARCHITECTURES", "DetectionCase", "TASK", "coco_map", "detect_volume", "detection_metrics", "froc",
           "load_detector", "read_cases", "train_detector", "truth_boxes"]
