"""Loading a MONAI detection bundle (configs/inference.json with a "detector", models/model.pt) as MONAI builds it.

The bundle's network_def, detector (MONAI's RetinaNetDetector with its anchor generator), preprocessing and
postprocessing are built by MONAI's ConfigParser from a data-only copy of the config, through the segmentation
bundles' reading (gdbackend.segment.bundle.build_bundle: expressions, trust, weights as data); the detector's
settings come from the config (settings.py). The bundle's own inferer and evaluator (scripts/ in the zoo) are not
built: run.py does what they do. A bundle without a detector, or with one GDImaging cannot run, is refused.
"""
from __future__ import annotations

from pathlib import Path

import torch

from ...errors import ModelError
from ...segment.bundle import DETECTOR, build_bundle, evaluator_amp, preprocessing_spacing, untrusted
from ...segment.bundle_config import setting
from ...segment.bundle_expressions import Untrusted
from ..pipeline import TASK
from .run import BundleDetector, check_postprocessing
from .settings import apply_settings

PIPELINE = "monai-bundle"  # the model card's "pipeline" of a detection bundle
ROOTS = ("network_def", DETECTOR, "preprocessing", "postprocessing")


def load_detection_bundle(folder: str | Path, device: torch.device,
                          trust: bool = False) -> tuple[BundleDetector, dict]:
    """(the bundle as a BundleDetector in eval mode on `device`, model card) of a MONAI detection bundle folder.

    Args:
        trust: the user consents to run the bundle's own code (scripts/, expressions beyond simple ones);
            remembered for this folder until its code changes.
    """
    # MONAI finds RetinaNet, RetinaNetDetector and the box transforms by name only among imported modules
    import monai.apps.detection.networks.retinanet_detector  # noqa: F401
    import monai.apps.detection.transforms.dictionary  # noqa: F401
    folder = Path(folder)
    parser, parts, trusted = build_bundle(folder, device, trust, TASK, ROOTS)
    detector = _checked_detector(parts, folder)
    try:
        apply_settings(parser, detector, trusted)
        force = setting(parser, _inferer(parser).get("force_sliding_window", False), "inferer#force_sliding_window")
    except Untrusted as e:
        raise untrusted(e, folder) from None
    check_postprocessing(parts.get("postprocessing"), detector.target_box_key)
    model = BundleDetector(detector, parts, evaluator_amp(parser), force is True)
    return model.to(device).eval(), _card(parser, folder, model, trusted)


def _checked_detector(parts: dict, folder: Path):
    from monai.apps.detection.networks.retinanet_detector import RetinaNetDetector
    detector = parts[DETECTOR]
    if not isinstance(detector, RetinaNetDetector):
        raise ModelError(f"The bundle {folder.name}'s {DETECTOR} is a {type(detector).__name__}: GDImaging runs "
                         "detection bundles built around MONAI's RetinaNetDetector.")
    if detector.network is not parts["network_def"]:
        raise ModelError(f"The bundle {folder.name}'s {DETECTOR} does not wrap its network_def, into which "
                         "models/model.pt is loaded: give the detector \"network\": \"@network_def\".")
    if detector.spatial_dims != 3:
        raise ModelError(f"The bundle {folder.name} detects in {detector.spatial_dims}D images: GDImaging runs "
                         "bundles on 3D volumes.")
    return detector


def _inferer(parser) -> dict:
    """The bundle's inferer item (the zoo's scripts.detection_inferer.RetinaNetInferer), read, not built."""
    inferer = parser.config.get("inferer")
    return inferer if isinstance(inferer, dict) else {}


def _card(parser, folder: Path, model: BundleDetector, trusted: bool) -> dict:
    """A GDImaging model card from the bundle's config and metadata (what the panels and `gd` show)."""
    meta = parser.config.get("_meta_", {})
    fmt = meta.get("network_data_format", {})
    names = fmt.get("inputs", {}).get("image", {}).get("channel_def") or {}
    classes = fmt.get("outputs", {}).get("pred", {}).get("channel_def") or {}
    detector = model.detector
    roi = getattr(detector.inferer, "roi_size", None)
    return {"task": TASK, "pipeline": PIPELINE, "source": "monai-bundle", "bundle": folder.name,
            "version": meta.get("version"), "in_channels": 1, "channels": [str(names.get("0", "image"))],
            "spacing": preprocessing_spacing(model.preprocessing),
            "patch_size": [int(v) for v in roi] if roi is not None else None,
            "classes": [str(classes.get(str(c), f"class {c}")) for c in range(detector.num_classes)],
            "score_threshold": float(detector.box_selector.score_thresh), "trusted": trusted}
