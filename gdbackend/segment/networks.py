"""Segmentation networks from MONAI, chosen by name with their arguments (kept in the model card)."""
from __future__ import annotations

import torch
from monai.networks.nets import BasicUNet, SegResNet, UNet

from ..errors import InputError, ModelError

# Defaults sized for a CPU; every value can be overridden by name (they are MONAI's own argument names).
DEFAULTS = {
    "unet": {"channels": [16, 32, 64, 128], "strides": [2, 2, 2], "num_res_units": 2, "norm": "instance"},
    "basicunet": {"features": [16, 16, 32, 64, 128, 16]},
    "segresnet": {"init_filters": 16},
}
_CLASSES = {"unet": UNet, "basicunet": BasicUNet, "segresnet": SegResNet}


def network_arguments(name: str, spatial_dims: int, in_channels: int, out_channels: int,
                      overrides: dict | None = None) -> dict:
    """The full argument dict of a network (what the model card stores and `build_network` takes)."""
    name = name.lower()
    if name not in _CLASSES:
        raise InputError(f"Unknown network {name!r}: use one of {', '.join(_CLASSES)}.")
    if spatial_dims not in (2, 3):
        raise InputError(f"Networks are 2D or 3D, not {spatial_dims}D.")
    args = {**DEFAULTS[name], **(overrides or {})}
    args["spatial_dims"] = spatial_dims
    args["in_channels"], args["out_channels"] = in_channels, out_channels
    return args


def build_network(name: str, arguments: dict) -> torch.nn.Module:
    try:
        return _CLASSES[name.lower()](**arguments)
    except KeyError:
        raise ModelError(f"The model card names an unknown network {name!r}: retrain the model with "
                         f"one of {', '.join(_CLASSES)}.") from None
    except (TypeError, ValueError, AssertionError) as e:
        raise InputError(f"Cannot build {name} with arguments {arguments}: {e}. Fix the network arguments.") from None


def divisor(name: str, arguments: dict) -> int:
    """Patch sizes must be multiples of this so that down- and up-sampling line up."""
    name = name.lower()
    if name == "unet":
        out = 1
        for s in arguments.get("strides", []):
            out *= int(s) if not isinstance(s, (list, tuple)) else int(max(s))
        return out
    if name == "basicunet":
        return 16
    return 2 ** (len(arguments.get("blocks_down", (1, 2, 2, 4))) - 1)
