"""MONAI Model Zoo bundles as segmentation models: a folder with configs/inference.json (or .yaml),
configs/metadata.json and models/model.pt.

The network is built by MONAI's ConfigParser from the bundle's `network_def`, the weights are read with
torch.load(weights_only=True), and the bundle's pre-processing (Orientationd, Spacingd, intensity scaling),
sliding-window size and output channel names become a model card, so `predict` treats the bundle like a
GDImaging model. A bundle config can hold Python expressions ("$..."); the network definition may not:
it may only name MONAI network classes, so that loading a bundle runs no code from the bundle.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import torch

from ..errors import ModelError
from ..train import load_weights
from .labels import PALETTE

CONFIGS = ("inference.json", "inference.yaml", "inference.yml")
NETWORK_KEYS = ("network_def", "network")
ALLOWED_KEYS = ("_target_", "_disabled_", "_desc_")
LPS = "LPS"  # the axis directions of GDImaging's model grid, in x, y, z order


def is_bundle(path: str | Path) -> bool:
    return Path(path).is_dir() and (Path(path) / "configs").is_dir()


class BundleNetwork(torch.nn.Module):
    """The bundle's network seen from GDImaging's model space: windows arrive as (N, C, z, y, x) on an LPS
    grid and are turned into the (N, C, x, y, z) array in the bundle's orientation (what MONAI's
    LoadImaged + Orientationd give), and the output back, so sliding windows, flips and resampling work unchanged."""

    def __init__(self, network: torch.nn.Module, axcodes: str) -> None:
        super().__init__()
        self.network = network
        self.flip = [2 + i for i, (ours, theirs) in enumerate(zip(LPS, axcodes)) if ours != theirs]

    def to_bundle(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 1, *range(x.ndim - 1, 1, -1))
        return x.flip(self.flip) if self.flip else x

    def from_bundle(self, y: torch.Tensor) -> torch.Tensor:
        y = y.flip(self.flip) if self.flip else y
        return y.permute(0, 1, *range(y.ndim - 1, 1, -1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.from_bundle(self.network(self.to_bundle(x)))


def load_bundle(folder: str | Path, device: torch.device) -> tuple[torch.nn.Module, dict]:
    """(network in eval mode on `device`, model card) of a MONAI bundle folder."""
    from monai.bundle import ConfigParser
    folder = Path(folder)
    config = next((folder / "configs" / n for n in CONFIGS if (folder / "configs" / n).is_file()), None)
    if config is None:
        raise ModelError(f"{folder} has no configs/inference.json or .yaml: give a MONAI bundle folder.")
    if config.suffix != ".json" and importlib.util.find_spec("yaml") is None:
        raise ModelError(f"{config} is YAML, which needs the PyYAML package: pip install pyyaml.")
    parser = ConfigParser()
    try:
        parser.read_config(config)
        if (folder / "configs" / "metadata.json").is_file():
            parser.read_meta(folder / "configs" / "metadata.json")
    except Exception as e:  # JSON/YAML syntax errors come in many types
        raise ModelError(f"Cannot read the bundle config {config} ({type(e).__name__}: {e}): fix the file.") from None
    key = next((k for k in NETWORK_KEYS if k in parser.config), None)
    if key is None:
        raise ModelError(f"{config} defines no network_def: give the bundle's inference config.")
    _check_data_only(parser, parser.get(key), key)
    try:
        network = parser.get_parsed_content(key, instantiate=True)
    except Exception as e:
        raise ModelError(f"Cannot build the bundle's {key} ({type(e).__name__}: {e}): the bundle needs another "
                         "MONAI version, or its config is broken.") from None
    load_weights(network, _weights(folder / "models" / "model.pt", device), folder / "models" / "model.pt")
    card = bundle_card(parser, network, folder)
    return BundleNetwork(network, card["axcodes"]).to(device).eval(), card


def _check_data_only(parser, item, where: str, depth: int = 0) -> None:
    """Refuse expressions, macros and targets that are not MONAI networks anywhere in the network definition."""
    if depth > 20:
        raise ModelError(f"The bundle's {where} references itself in a loop: fix the config.")
    if isinstance(item, dict):
        for k, v in item.items():
            if str(k).startswith("_") and k not in ALLOWED_KEYS:
                raise ModelError(f"The bundle's {where} uses {k}, which runs code: GDImaging loads only networks "
                                 "defined by MONAI class names and values.")
            if k == "_target_":
                _check_target(v, where)
            _check_data_only(parser, v, f"{where}.{k}", depth + 1)
    elif isinstance(item, list):
        for i, v in enumerate(item):
            _check_data_only(parser, v, f"{where}[{i}]", depth + 1)
    elif isinstance(item, str) and item.startswith(("$", "%")):
        raise ModelError(f"The bundle's {where} is the expression {item[:60]!r}, which would run code: GDImaging "
                         "loads only networks defined by MONAI class names and values.")
    elif isinstance(item, str) and item.startswith("@"):
        _check_data_only(parser, parser.get(item[1:]), item[1:], depth + 1)


def _check_target(target, where: str) -> None:
    from monai.bundle.config_item import ComponentLocator
    name = target if isinstance(target, str) else ""
    module = name if "." in name else ComponentLocator().get_component_module_name(name)
    if not isinstance(module, str) or not module.startswith("monai.networks."):
        raise ModelError(f"The bundle's {where} builds {target!r}, which is not a MONAI network: GDImaging "
                         "loads only networks from monai.networks.")


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


def _transforms(parser) -> dict[str, dict]:
    """The bundle's pre-processing transforms by class name (the first of each), arguments as written."""
    found: dict[str, dict] = {}

    def walk(item) -> None:
        if isinstance(item, str) and item.startswith("@") and not item.startswith("@@"):
            walk(parser.get(item[1:]))
        elif isinstance(item, dict):
            if isinstance(item.get("_target_"), str):
                found.setdefault(item["_target_"].split(".")[-1], item)
            for v in item.values():
                walk(v)
        elif isinstance(item, list):
            for v in item:
                walk(v)

    walk(parser.get("preprocessing", {}))
    return found


def _value(parser, value):
    """A config value with "@id" references followed; expressions are refused, never evaluated."""
    for _ in range(20):
        if not (isinstance(value, str) and value.startswith("@")):
            break
        value = parser.get(value[1:])
    if isinstance(value, str) and value.startswith(("$", "%", "@")):
        raise ModelError(f"The bundle computes a setting GDImaging needs with {value[:60]!r}: GDImaging reads "
                         "plain values only and runs no code from a bundle.")
    return value


def bundle_card(parser, network: torch.nn.Module, folder: Path) -> dict:
    """A GDImaging model card from the bundle's config and metadata."""
    net_args = parser.get(next(k for k in NETWORK_KEYS if k in parser.config))
    spatial_dims = int(_value(parser, net_args.get("spatial_dims", 3)))
    found = _transforms(parser)
    axcodes = str(_value(parser, found.get("Orientationd", {}).get("axcodes", LPS[:spatial_dims])))
    if len(axcodes) != spatial_dims or any(a not in (b + c) for a, b, c in zip(axcodes, LPS, "RAI")):
        raise ModelError(f"The bundle orients images as {axcodes!r}; GDImaging reproduces orientations whose axes "
                         "stay in x, y, z order (e.g. RAS, LPS).")
    pixdim = _value(parser, found.get("Spacingd", {}).get("pixdim"))
    if pixdim is None:
        raise ModelError("The bundle's pre-processing has no Spacingd: GDImaging needs the voxel spacing the "
                         "network was trained at.")
    spacing = [float(v) for v in ([pixdim] * spatial_dims if isinstance(pixdim, (int, float)) else pixdim)]
    inferer = parser.get("inferer", {}) if isinstance(parser.get("inferer", {}), dict) else {}
    fmt = parser.get("_meta_", {}).get("network_data_format", {})
    roi = _value(parser, inferer.get("roi_size")) or fmt.get("inputs", {}).get("image", {}).get("spatial_shape")
    if not roi or not all(isinstance(v, int) for v in roi):
        raise ModelError("The bundle gives no sliding-window roi_size (inferer) or input spatial_shape (metadata).")
    out_channels = int(_value(parser, net_args.get("out_channels", 0)) or 0)
    names = fmt.get("outputs", {}).get("pred", {}).get("channel_def") or {}
    if out_channels < 2:
        raise ModelError("The bundle's network has fewer than 2 output channels: GDImaging applies bundles whose "
                         "channels are background + one per label (softmax), not sigmoid outputs.")
    labels = [{"value": c, "name": str(names.get(str(c), f"label {c}")),
               "color": list(PALETTE[(c - 1) % len(PALETTE)])} for c in range(1, out_channels)]
    return {"task": "segment", "source": "monai-bundle", "bundle": folder.name,
            "version": parser.get("_meta_", {}).get("version"), "spatial_dims": spatial_dims,
            "in_channels": int(_value(parser, net_args.get("in_channels", 1))), "spacing": spacing,
            "patch": [int(v) for v in roi][::-1], "normalisation": _normalisation(parser, found),
            "labels": labels, "axcodes": axcodes}


def _normalisation(parser, found: dict[str, dict]) -> str:
    """The bundle's intensity scaling as one of GDImaging's normalisations; anything else is refused."""
    if "ScaleIntensityRanged" in found:
        t = {k: _value(parser, v) for k, v in found["ScaleIntensityRanged"].items()}
        if (t.get("b_min", 0), t.get("b_max", 1), t.get("clip", False)) == (0, 1, True):
            return f"ct:{float(t['a_min'])},{float(t['a_max'])}"
        raise ModelError(f"The bundle scales intensities to [{t.get('b_min')}, {t.get('b_max')}] with clip="
                         f"{t.get('clip')}; GDImaging reproduces ScaleIntensityRanged to [0, 1] with clip=True.")
    if "NormalizeIntensityd" in found:
        return "zscore"
    if "ScaleIntensityRangePercentilesd" in found:
        t = {k: _value(parser, v) for k, v in found["ScaleIntensityRangePercentilesd"].items()}
        if (t.get("lower"), t.get("upper"), t.get("b_min"), t.get("b_max")) == (0.5, 99.5, 0, 1):
            return "percentile"
    scalers = sorted(k for k in found if "Intensity" in k)
    if scalers:
        raise ModelError(f"The bundle normalises intensities with {', '.join(scalers)}, which GDImaging cannot "
                         "reproduce: use a bundle with ScaleIntensityRanged, NormalizeIntensityd or "
                         "percentile scaling.")
    return "none"
