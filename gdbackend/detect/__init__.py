"""Lesion detection, boxes in LPS mm, by interchangeable pipelines behind one interface
(pipeline.DetectionPipeline) picked by architecture name or model card (registry.pipeline_for):
torchvision's Faster R-CNN, RetinaNet or FCOS on 2.5D slices merged into 3D boxes (slices25d), MONAI's 3D
RetinaNet on whole volumes (retina3d), a 3D U-Net's lesion regions (segmentation), or a MONAI Model Zoo
detection bundle run as MONAI runs it (bundle); see docs/detection.md."""
from .data import DetectionCase, read_cases, truth_boxes
from .metrics import coco_map, detection_metrics, froc
from .pipeline import TASK, DetectionPipeline
from .registry import (
                       ALL_ARCHITECTURES,
                       DEFAULT_ARCHITECTURE,
                       PIPELINES,
                       build_detector,
                       check_options,
                       detect_volume,
                       load_detector,
                       pipeline_for,
                       train_detector,
)
from .retina3d.pipeline import train_retina3d
from .segmentation.pipeline import detect_by_segmentation, train_unet_detector

__all__ = ["ALL_ARCHITECTURES", "DEFAULT_ARCHITECTURE", "DetectionCase", "DetectionPipeline", "PIPELINES", "TASK",
           "build_detector", "check_options", "coco_map", "detect_by_segmentation", "detect_volume",
           "detection_metrics", "froc", "load_detector", "pipeline_for", "read_cases", "train_detector",
           "train_retina3d", "train_unet_detector", "truth_boxes"]
