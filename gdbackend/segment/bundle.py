"""MONAI Model Zoo bundles as segmentation models: a folder with configs/inference.json (or .yaml),
configs/metadata.json and models/model.pt.

A bundle runs as MONAI runs it (bundle_run): its own preprocessing transforms, inferer and postprocessing,
built by MONAI's ConfigParser from a data-only copy of its config (bundle_config), so that loading a bundle
runs no code from it unless the user has trusted it (bundle_trust). The weights are read with
torch.load(weights_only=True). Interactive, pathology and 2D RGB bundles are refused with the reason; detection
bundles run through gdbackend.detect.bundle, which builds them with build_bundle.
"""
from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import torch

from ..errors import ModelError
from ..train import load_weights
from . import bundle_trust
from .bundle_config import ROOTS, data_only, instantiate, read_parser, setting
from .bundle_expressions import Untrusted, where_chain
from .bundle_run import BundleModel
from .labels import PALETTE

OUT_OF_SCOPE = {  # words in a bundle's name or task -> why GDImaging does not run it
    ("deepedit", "vista", "nuclick", "interactive", "prompt"): "an interactive model that segments from the user's "
    "clicks or prompts, which GDImaging's panels do not give",
    ("pathology", "histolog", "nuclei", "hovernet", "whole slide"): "a pathology model for 2D RGB microscopy "
    "slides, not volumes",
}
DETECTOR = "detector"  # the config item of a detection bundle: MONAI's RetinaNetDetector


def is_bundle(path: str | Path) -> bool:
    return Path(path).is_dir() and (Path(path) / "configs").is_dir()


def load_bundle(folder: str | Path, device: torch.device, trust: bool = False) -> tuple[BundleModel, dict]:
    """(the bundle as a BundleModel in eval mode on `device`, model card) of a MONAI bundle folder.

    Args:
        trust: the user consents to run the bundle's own code (scripts/, expressions beyond simple ones);
            remembered for this folder until its code changes.
    """
    folder = Path(folder)
    parser, parts, trusted = build_bundle(folder, device, trust)
    model = BundleModel(parts.pop("network_def"), parts, evaluator_amp(parser))
    return model.to(device).eval(), bundle_card(parser, folder, model, trusted)


def build_bundle(folder: Path, device: torch.device, trust: bool, task: str = "segment",
                 roots: tuple[str, ...] = ROOTS) -> tuple[object, dict, bool]:
    """(MONAI's ConfigParser of the bundle's config, its parts `roots` as MONAI builds them with models/model.pt
    loaded into network_def, whether the bundle is trusted); a bundle for another `task` (segment, detect) or
    one GDImaging does not run is refused with the reason.

    Args:
        trust: the user consents to run the bundle's own code, remembered as in load_bundle.
    """
    parser = read_parser(folder)
    refuse_out_of_scope(parser, folder, task)
    if trust:
        bundle_trust.trust(folder)
    trusted = trust or bundle_trust.is_trusted(folder)
    parts = _build_trusted(parser, folder, roots) if trusted else _build(parser, folder, roots)
    weights = folder / "models" / "model.pt"
    load_weights(parts["network_def"], _weights(weights, device), weights)
    return parser, parts, trusted


def evaluator_amp(parser) -> bool:
    """Whether the bundle's evaluator runs under autocast (on a GPU): its "amp", or the item it refers to."""
    evaluator = parser.config.get("evaluator")
    amp = evaluator.get("amp") if isinstance(evaluator, dict) else None
    with contextlib.suppress(Untrusted):  # computed by code: MONAI's default, no autocast
        return setting(parser, amp, "evaluator#amp") is True
    return False


def refuse_out_of_scope(parser, folder: Path, task: str = "segment") -> None:
    meta = parser.config.get("_meta_", {})
    text = " ".join(str(v) for v in (folder.name, meta.get("name", ""), meta.get("task", ""))).lower()
    for words, reason in OUT_OF_SCOPE.items():
        if any(w in text for w in words):
            raise ModelError(f"The bundle {folder.name} is {reason}: GDImaging does not run it.")
    if task == "segment" and (DETECTOR in parser.config or "detection" in text):
        raise ModelError(f"The bundle {folder.name} is a detection model (boxes, not a label map), which the "
                         "segmentation path does not run: run it with gd detect predict.")
    if task == "detect" and DETECTOR not in parser.config:
        raise ModelError(f"The bundle {folder.name} defines no \"{DETECTOR}\" in its inference config: GDImaging "
                         "detects with bundles built around MONAI's RetinaNetDetector (a segmentation bundle runs "
                         "with gd segment predict).")
    image = meta.get("network_data_format", {}).get("inputs", {}).get("image", {})
    if len(image.get("spatial_shape", [0, 0, 0])) == 2 or str(image.get("format", "")).upper() == "RGB":
        kind = "RGB pictures" if str(image.get("format", "")).upper() == "RGB" else "2D images"
        raise ModelError(f"The bundle {folder.name} takes {kind}: GDImaging runs bundles on 3D volumes.")


def _build(parser, folder: Path, roots: tuple[str, ...]) -> dict:
    try:
        config = data_only(parser, roots)
    except Untrusted as e:
        raise untrusted(e, folder) from None
    from monai.bundle import ConfigParser
    return instantiate(ConfigParser(config, globals=False), roots)


def untrusted(error: Untrusted, folder: Path) -> ModelError:
    """The error for a bundle whose config needs its own code, saying how to trust it."""
    return ModelError(f"{error}. GDImaging runs a bundle's own code only once you trust the bundle: if you trust "
                      f"its publisher, run it once with --trust-bundle (API: trust=True); {folder.name} then runs "
                      "without asking until its files change.")


def _build_trusted(parser, folder: Path, roots: tuple[str, ...]) -> dict:
    """The bundle's parts as MONAI builds them, its expressions and scripts/ included (the user trusts it)."""
    stale = [m for m in sys.modules if m == "scripts" or m.startswith("scripts.")]  # another bundle's scripts
    for name in stale:
        del sys.modules[name]
    sys.path.insert(0, str(folder))
    try:
        return instantiate(parser, roots)
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(str(folder))


def _weights(path: Path, device: torch.device) -> dict:
    if not path.is_file():
        raise ModelError(f"The bundle has no weights file {path}: give a bundle with models/model.pt.")
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
    except Exception as e:  # a pickle that needs code, a TorchScript file, a broken zip
        raise ModelError(f"{path} is not a weights file that loads as data ({type(e).__name__}): "
                         "give the bundle's state-dict model.pt (TorchScript model.ts is not used).") from None
    state = payload.get("model", payload) if isinstance(payload, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelError(f"{path} holds no network weights (a state dict of tensors): check the bundle.")
    return state


def multi_label(postprocessing) -> bool:
    """Whether the bundle's outputs are independent sigmoid channels rather than softmax classes."""
    from monai.transforms import Activationsd, Compose
    transforms = postprocessing.flatten().transforms if isinstance(postprocessing, Compose) else []
    return any(isinstance(t, Activationsd) and any(t.sigmoid) for t in transforms)


def bundle_card(parser, folder: Path, model: BundleModel, trusted: bool) -> dict:
    """A GDImaging model card from the bundle's config and metadata (what the panels and `gd` show)."""
    meta = parser.config.get("_meta_", {})
    fmt = meta.get("network_data_format", {})
    image = fmt.get("inputs", {}).get("image", {})
    roi = list(getattr(model.inferer, "roi_size", None) or image.get("spatial_shape") or [])
    in_channels = len(model.keys) if len(model.keys) > 1 else int(image.get("num_channels", 1))
    names = image.get("channel_def") or {}
    channels = model.keys if len(model.keys) > 1 else [str(names.get(str(c), f"channel {c + 1}"))
                                                       for c in range(in_channels)]
    return {"task": "segment", "source": "monai-bundle", "bundle": folder.name, "version": meta.get("version"),
            "spatial_dims": len(roi) or 3, "in_channels": in_channels, "channels": channels,
            "patch": [int(v) for v in roi][::-1], "spacing": preprocessing_spacing(model.preprocessing),
            "multi_label": multi_label(model.postprocessing), "trusted": trusted,
            "labels": _labels(parser, fmt, multi_label(model.postprocessing))}


def preprocessing_spacing(preprocessing) -> list[float] | None:
    """The Spacingd pixdim in x, y, z order (for display: the bundle's own Spacingd does the resampling)."""
    from monai.transforms import Compose, Spacingd
    for t in preprocessing.flatten().transforms if isinstance(preprocessing, Compose) else []:
        if isinstance(t, Spacingd):
            return [float(v) for v in t.spacing_transform.pixdim]
    return None


def _labels(parser, fmt: dict, multi: bool) -> list[dict]:
    """Label values and names: the config's `labels` {name: value} if given; else the output channel_def, with
    values as a merging lambda assigns them (BraTS: 4 where channel 2, ...), or softmax channel c as value c
    (0 the background), or sigmoid channel c as value c + 1."""
    named = parser.config.get("labels")
    out = fmt.get("outputs", {}).get("pred", {})
    names = out.get("channel_def") or {}
    n = int(out.get("num_channels", len(names)) or 0)
    merge = next(filter(None, map(where_chain, _lambdas(parser.config.get("postprocessing")))), None)
    if isinstance(named, dict) and all(isinstance(v, int) for v in named.values()):
        pairs = sorted((v, str(k)) for k, v in named.items() if v)
    elif merge:
        pairs = sorted((v, str(names.get(str(c), f"label {v}"))) for v, c in merge.items())
    else:
        pairs = [(c + 1, str(names.get(str(c), f"label {c + 1}"))) for c in range(n)] if multi else \
            [(c, str(names.get(str(c), f"label {c}"))) for c in range(1, n)]
    return [{"value": v, "name": name, "color": list(PALETTE[(v - 1) % len(PALETTE)])} for v, name in pairs]



def _lambdas(postprocessing) -> list[str]:
    """The lambda expressions of the Lambdad transforms written in a postprocessing config."""
    items = postprocessing.get("transforms", []) if isinstance(postprocessing, dict) else []
    return [t["func"] for t in items if isinstance(t, dict) and str(t.get("_target_", "")).endswith("Lambdad")
            and isinstance(t.get("func"), str)]
