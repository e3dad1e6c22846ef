"""MONAI's 3D RetinaNet (monai.apps.detection) for lesions: a 3D ResNet-FPN scoring anchors of a few voxels,
set up for training and for its own sliding-window inference, rebuilt from the arguments its card keeps."""
from __future__ import annotations

from monai.apps.detection.networks.retinanet_detector import RetinaNetDetector
from monai.apps.detection.networks.retinanet_network import RetinaNet, resnet_fpn_feature_extractor
from monai.apps.detection.utils.anchor_utils import AnchorGeneratorWithAnchorShape
from monai.networks.nets import resnet

from ...errors import InputError

BACKBONES = ("resnet10", "resnet18", "resnet34", "resnet50")


def retina3d_arguments(patch_size: tuple[int, int, int], backbone: str = "resnet10") -> dict:
    """What the model card keeps to rebuild the detector; `patch_size` is the training patch and sliding
    window in voxels (x, y, z). Anchors are in voxels of the model grid: 3 and 6 voxels at the finest level
    (stride 4), twice and four times that at the next two, which spans lesions of 3-20 mm at 1.5-2 mm spacing.
    ATSS matching (MONAI's choice for small objects) picks each lesion's nearest anchors by distance, so even a
    lesion smaller than the stride gets positives."""
    if backbone not in BACKBONES:
        raise InputError(f"Unknown 3D backbone {backbone!r}: use one of {', '.join(BACKBONES)}.")
    return {"backbone": backbone, "returned_layers": [1, 2], "feature_map_scales": [1, 2, 4],
            "base_anchor_shapes": [[3, 3, 3], [6, 6, 6]], "patch_size": list(patch_size), "score_thresh": 0.01,
            "nms_thresh": 0.22, "detections_per_img": 100, "overlap": 0.25}


def size_divisible(arguments: dict) -> int:
    """Input sizes must be multiples of this: the stem's stride 2, the max-pool's 2 and 2 per returned layer."""
    return 2 * 2 * 2 ** max(arguments["returned_layers"])


def build_retina3d(arguments: dict) -> RetinaNetDetector:
    """MONAI's RetinaNetDetector with random weights, set up for training (ATSS matcher, hard-negative
    sampling as in MONAI's LUNA16 recipe) and for sliding-window inference."""
    backbone = getattr(resnet, arguments["backbone"])(spatial_dims=3, n_input_channels=1, conv1_t_stride=2)
    extractor = resnet_fpn_feature_extractor(backbone, 3, pretrained_backbone=False,
                                             returned_layers=arguments["returned_layers"])
    anchors = AnchorGeneratorWithAnchorShape(feature_map_scales=arguments["feature_map_scales"],
                                             base_anchor_shapes=[tuple(s) for s in arguments["base_anchor_shapes"]])
    network = RetinaNet(spatial_dims=3, num_classes=1, num_anchors=anchors.num_anchors_per_location()[0],
                        feature_extractor=extractor, size_divisible=size_divisible(arguments))
    detector = RetinaNetDetector(network, anchors)
    detector.set_atss_matcher(num_candidates=4, center_in_gt=False)
    detector.set_hard_negative_sampler(batch_size_per_image=64, positive_fraction=0.3, pool_size=20, min_neg=16)
    detector.set_target_keys(box_key="boxes", label_key="labels")
    detector.set_box_selector_parameters(score_thresh=arguments["score_thresh"], topk_candidates_per_level=1000,
                                         nms_thresh=arguments["nms_thresh"],
                                         detections_per_img=arguments["detections_per_img"])
    detector.set_sliding_window_inferer(roi_size=arguments["patch_size"], overlap=arguments["overlap"],
                                        mode="constant")
    return detector
