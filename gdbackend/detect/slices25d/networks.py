"""The 2.5D detectors by name, never downloading weights: torchvision's two-stage Faster R-CNN (ResNet-50-FPN,
MobileNetV3-FPN, or ResNet-18-FPN: far less compute, for CPU budgets) and one-stage RetinaNet and FCOS on the
same ResNet-FPN backbones. Anchors are sized for lesions of a few to a hundred pixels and the model's slices
are never resized."""
from __future__ import annotations

import torch
from torchvision.models.detection import (
    FCOS,
    FasterRCNN,
    RetinaNet,
    fasterrcnn_mobilenet_v3_large_fpn,
    fasterrcnn_resnet50_fpn,
)
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import resnet_fpn_backbone
from torchvision.models.detection.transform import GeneralizedRCNNTransform

from ...errors import InputError


def resnet_fpn(name: str) -> torch.nn.Module:
    """A ResNet-FPN with trainable BatchNorm everywhere (nothing is pretrained), levels at strides 4..64."""
    return resnet_fpn_backbone(backbone_name=name, weights=None, norm_layer=torch.nn.BatchNorm2d, trainable_layers=5)


class SliceTransform(GeneralizedRCNNTransform):
    """Normalises and batches slices but never resizes them: they are already at the model's spacing, and
    training crops must keep that scale too (torchvision would stretch a crop to the slice size)."""

    def resize(self, image: torch.Tensor, target: dict | None = None) -> tuple[torch.Tensor, dict | None]:
        return image, target


def fasterrcnn_resnet18_fpn(weights: None = None, weights_backbone: None = None, **arguments) -> FasterRCNN:
    return FasterRCNN(resnet_fpn("resnet18"), **arguments)


def _one_stage(family: type, backbone: str):
    def build(weights: None = None, weights_backbone: None = None, **arguments) -> torch.nn.Module:
        sizes = ANCHORS[f"{backbone}_fpn"]
        # FCOS places one point per location; its sizes only decide which level learns which object size
        ratios = (1.0,) if family is FCOS else RATIOS
        return family(resnet_fpn(backbone), anchor_generator=AnchorGenerator(sizes, (ratios,) * len(sizes)),
                      **arguments)
    return build


FAMILIES = {"resnet18_fpn": "faster_rcnn", "resnet50_fpn": "faster_rcnn", "mobilenet_v3_fpn": "faster_rcnn",
            "retinanet_resnet18_fpn": "retinanet", "retinanet_resnet50_fpn": "retinanet",
            "fcos_resnet18_fpn": "fcos", "fcos_resnet50_fpn": "fcos"}
ARCHITECTURES = {"resnet18_fpn": fasterrcnn_resnet18_fpn, "resnet50_fpn": fasterrcnn_resnet50_fpn,
                 "mobilenet_v3_fpn": fasterrcnn_mobilenet_v3_large_fpn,
                 **{name: _one_stage(RetinaNet if FAMILIES[name] == "retinanet" else FCOS, name.split("_")[1])
                    for name in FAMILIES if FAMILIES[name] != "faster_rcnn"}}
RATIOS = (0.5, 1.0, 2.0)
# one size per FPN level for the ResNets (strides 4..64). ResNet-18 starts at 4 px: lesions of 3-20 mm are
# 2-13 px on 1.5 mm slices, and the smallest overlap no 8 px anchor well; MobileNetV3's 3 coarse levels
# each take them all
ANCHORS = {"resnet18_fpn": ((4,), (8,), (16,), (32,), (64,)), "resnet50_fpn": ((8,), (16,), (32,), (64,), (128,)),
           "mobilenet_v3_fpn": ((8, 16, 32, 64, 128),) * 3}


def _known(architecture: str) -> str:
    if architecture not in ARCHITECTURES:
        raise InputError(f"Unknown detector {architecture!r}: the 2.5D detectors are {', '.join(ARCHITECTURES)} "
                         "(gd detect train --architecture lists the whole-volume ones too).")
    return architecture


def detector_arguments(architecture: str, size: int) -> dict:
    """The keyword arguments of the architecture's torchvision class for slices of `size` x `size` pixels,
    stored in the model card."""
    _known(architecture)
    # min_size = max_size = the slice size: torchvision would otherwise upscale every slice to 800 px;
    # keep low-scored boxes, which FROC at high false-positive rates counts
    common = {"num_classes": 2, "min_size": size, "max_size": size, "image_mean": [0.3] * 3, "image_std": [0.3] * 3}
    family = FAMILIES[architecture]
    if family == "faster_rcnn":
        # few lesions per slice: sample fewer, more balanced anchors and regions, so positives are not drowned
        return {**common, "rpn_batch_size_per_image": 64, "box_batch_size_per_image": 64,
                "box_positive_fraction": 0.5, "box_score_thresh": 0.01}
    # one-stage detectors score every anchor with a focal loss, which already copes with the imbalance;
    # FCOS's default score threshold (0.2) would cut the low-scored boxes FROC counts
    return {**common, "score_thresh": 0.01, "detections_per_img": 100}


def build_slice_detector(architecture: str, arguments: dict) -> torch.nn.Module:
    """The detector with random weights (weights=None, weights_backbone=None) from its card's `arguments`."""
    model = ARCHITECTURES[_known(architecture)](weights=None, weights_backbone=None, **arguments)
    model.transform = SliceTransform(arguments["min_size"], arguments["max_size"], arguments["image_mean"],
                                     arguments["image_std"])
    if FAMILIES[architecture] == "faster_rcnn":
        model.rpn.anchor_generator = AnchorGenerator(ANCHORS[architecture], (RATIOS,) * len(ANCHORS[architecture]))
    return model
