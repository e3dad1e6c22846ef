"""Lesion detection, boxes in LPS mm: torchvision's Faster R-CNN, RetinaNet or FCOS on 2.5D slices merged into
3D boxes, MONAI's 3D RetinaNet on whole volumes, or a 3D U-Net's lesion regions; see docs/detection.md."""
from .data import DetectionCase, read_cases, truth_boxes
from .metrics import coco_map, detection_metrics, froc
from .model import ALL_ARCHITECTURES, ARCHITECTURES
from .predict import TASK, detect_volume, load_detector
from .segmentation import detect_by_segmentation, train_unet_detector
from .train import train_detector
from .train3d import train_retina3d

__all__ = ["ALL_ARCHITECTURES", "ARCHITECTURES", "DetectionCase", "TASK", "coco_map", "detect_volume",
           "detect_by_segmentation", "detection_metrics", "froc", "load_detector", "read_cases", "train_detector",
           "train_retina3d", "train_unet_detector", "truth_boxes"]
