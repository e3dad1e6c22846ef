"""torchvision Faster R-CNN for lesions: ResNet-50-FPN, MobileNetV3-FPN or ResNet-18-FPN (far less compute
than ResNet-50, for CPU budgets), never downloading weights, with anchors sized for lesions of a few to a
hundred pixels and no resizing of the model's slices."""
from __future__ import annotations

from pathlib import Path

import torch
from torchvision.models.detection import FasterRCNN, fasterrcnn_mobilenet_v3_large_fpn, fasterrcnn_resnet50_fpn
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import resnet_fpn_backbone

from ..errors import InputError, ModelError


def fasterrcnn_resnet18_fpn(weights: None = None, weights_backbone: None = None, **arguments) -> FasterRCNN:
    """Faster R-CNN on a ResNet-18-FPN with trainable BatchNorm everywhere (nothing is pretrained)."""
    backbone = resnet_fpn_backbone(backbone_name="resnet18", weights=weights_backbone, norm_layer=torch.nn.BatchNorm2d,
                                   trainable_layers=5)
    return FasterRCNN(backbone, **arguments)


ARCHITECTURES = {"resnet18_fpn": fasterrcnn_resnet18_fpn, "resnet50_fpn": fasterrcnn_resnet50_fpn,
                 "mobilenet_v3_fpn": fasterrcnn_mobilenet_v3_large_fpn}
RATIOS = (0.5, 1.0, 2.0)
# one size per FPN level for the ResNets (strides 4..64). ResNet-18 starts at 4 px: lesions of 3-20 mm are
# 2-13 px on 1.5 mm slices, and the smallest overlap no 8 px anchor well; MobileNetV3's 3 coarse levels
# each take them all
ANCHORS = {"resnet18_fpn": ((4,), (8,), (16,), (32,), (64,)), "resnet50_fpn": ((8,), (16,), (32,), (64,), (128,)),
           "mobilenet_v3_fpn": ((8, 16, 32, 64, 128),) * 3}


def detector_arguments(architecture: str, size: int) -> dict:
    if architecture not in ARCHITECTURES:
        raise InputError(f"Unknown detector {architecture!r}: use one of {', '.join(ARCHITECTURES)}.")
    # min_size = max_size = the slice size: torchvision would otherwise upscale every slice to 800 px
    # few lesions per slice: sample fewer, more balanced anchors and regions, so positives are not drowned;
    # keep low-scored boxes, which FROC at high false-positive rates counts
    return {"num_classes": 2, "min_size": size, "max_size": size, "image_mean": [0.3] * 3, "image_std": [0.3] * 3,
            "rpn_batch_size_per_image": 64, "box_batch_size_per_image": 64, "box_positive_fraction": 0.5,
            "box_score_thresh": 0.01}


def build_detector(architecture: str, arguments: dict, weights: str | Path | None = None) -> torch.nn.Module:
    """The detector with random weights (weights=None, weights_backbone=None), or a local weights file's
    tensors wherever their shapes fit (e.g. a COCO-trained torchvision file: all but the class head)."""
    model = ARCHITECTURES[architecture](weights=None, weights_backbone=None, **arguments)
    model.rpn.anchor_generator = AnchorGenerator(ANCHORS[architecture], (RATIOS,) * len(ANCHORS[architecture]))
    if weights is not None:
        load_matching(model, weights)
    return model


def load_matching(model: torch.nn.Module, path: str | Path) -> int:
    """Copy the tensors of a weights file whose names and shapes match; returns how many were copied."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"Weights file not found: {path}.")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise ModelError(f"{path} is not a PyTorch weights file ({type(e).__name__}).") from None
    state = state.get("model", state) if isinstance(state, dict) else {}
    own = model.state_dict()
    fitting = {k: v for k, v in state.items() if k in own and getattr(v, "shape", None) == own[k].shape}
    if not fitting:
        raise ModelError(f"No tensor of {path} fits this detector: give weights of the same architecture.")
    model.load_state_dict(fitting, strict=False)
    return len(fitting)
