"""Lesion detection, boxes in LPS mm: torchvision's Faster R-CNN, RetinaNet or FCOS on 2.5D slices merged into
3D boxes, or MONAI's 3D RetinaNet on whole volumes; see docs/detection.md."""
from .data import DetectionCase, read_cases, truth_boxes
from .metrics import coco_map, detection_metrics, froc
from .model import ALL_ARCHITECTURES, ARCHITECTURES
from .predict import TASK, detect_volume, load_detector
from .train import train_detector
from .train3d import train_retina3d

__all__ = ["ALL_ARCHITECTURES", "ARCHITECTURES", "DetectionCase", "TASK", "coco_map", "detect_volume",
           "detection_metrics", "froc", "load_detector", "read_cases", "train_detector", "train_retina3d",
           "truth_boxes"]
