"""Lesion detection, boxes in LPS mm, by interchangeable pipelines behind one interface
(pipeline.DetectionPipeline) picked by architecture name or model card (registry.pipeline_for):
torchvision's Faster R-CNN, RetinaNet or FCOS on 2.5D slices merged into 3D boxes (slices25d), MONAI's 3D
RetinaNet on whole volumes (retina3d), a 3D U-Net's lesion regions (segmentation), or a MONAI Model Zoo
detection bundle run as MONAI runs it (bundle); see docs/detection.md.

Each name loads its module (with torch, torchvision and MONAI) on first use, so that `gd detect --help` and the
command's parser start without them.
"""
from ..lazy import lazy_exports

_HOMES = {"ALL_ARCHITECTURES": "architectures", "DEFAULT_ARCHITECTURE": "architectures", "DetectionCase": "data",
          "read_cases": "data", "truth_boxes": "data", "coco_map": "metrics", "detection_metrics": "metrics",
          "froc": "metrics", "TASK": "pipeline", "DetectionPipeline": "pipeline", "PIPELINES": "registry",
          "build_detector": "registry", "check_options": "registry", "detect_volume": "registry",
          "load_detector": "registry", "pipeline_for": "registry", "train_detector": "registry",
          "train_retina3d": "retina3d.pipeline", "detect_by_segmentation": "segmentation.pipeline",
          "train_unet_detector": "segmentation.pipeline"}

__all__ = sorted(_HOMES)
__getattr__ = lazy_exports(__name__, _HOMES)
