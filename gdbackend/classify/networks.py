"""Classification networks by name, with the arguments the model card keeps: MONAI ResNets and DenseNets
(2D or 3D) and torchvision's batch-norm VGGs (2D only)."""
from __future__ import annotations

from collections.abc import Callable

import torch
import torchvision
from monai.networks.nets import DenseNet121, DenseNet169, DenseNet201, resnet10, resnet18, resnet34, resnet50

from ..errors import InputError


def vgg(depth: str, spatial_dims: int, in_channels: int, num_classes: int, head_width: int = 256) -> torch.nn.Module:
    """torchvision's VGG (`depth` e.g. "vgg11_bn", random weights) for `in_channels` and `num_classes`, with a
    small head: global average pooling, one hidden layer of `head_width`, dropout. torchvision's head
    expects 224 px inputs: on 32 px patches its 7 x 7 pooling only repeats a 1 x 1 feature map 49 times,
    and its two 4096-wide layers (over 100 million weights) would overfit a few hundred patches."""
    net = getattr(torchvision.models, depth)(weights=None)
    net.features[0] = torch.nn.Conv2d(in_channels, net.features[0].out_channels, 3, padding=1)
    net.avgpool = torch.nn.AdaptiveAvgPool2d(1)
    # 512: the channels of VGG's last block
    net.classifier = torch.nn.Sequential(torch.nn.Linear(512, head_width), torch.nn.ReLU(inplace=True),
                                         torch.nn.Dropout(0.5), torch.nn.Linear(head_width, num_classes))
    return net


def _vgg(depth: str) -> Callable[..., torch.nn.Module]:
    def build(**arguments) -> torch.nn.Module:
        return vgg(depth, **arguments)
    return build


RESNETS = {"resnet10": resnet10, "resnet18": resnet18, "resnet34": resnet34, "resnet50": resnet50}
DENSENETS = {"densenet121": DenseNet121, "densenet169": DenseNet169, "densenet201": DenseNet201}
VGGS = {name: _vgg(name) for name in ("vgg11_bn", "vgg13_bn", "vgg16_bn")}
NETWORKS: dict[str, Callable[..., torch.nn.Module]] = {**RESNETS, **DENSENETS, **VGGS}
# stride of the last feature map (VGG: 5 max-pools; DenseNet: stem 4 x 3 transitions): smaller inputs
# would shrink it to nothing. The ResNets end in an adaptive pool and take any size from 8 up
MIN_SIZE = {**{n: 32 for n in (*DENSENETS, *VGGS)}, **{n: 8 for n in RESNETS}}


def network_arguments(name: str, spatial_dims: int, num_classes: int, overrides: dict | None = None) -> dict:
    """ResNets get a stride-2 stem by default: on a CPU it makes a 3D ResNet about 6x faster at the same
    accuracy."""
    if name not in NETWORKS:
        raise InputError(f"Unknown network {name!r}: use one of {', '.join(NETWORKS)}.")
    if spatial_dims not in (2, 3):
        raise InputError(f"Classification networks are 2D or 3D, not {spatial_dims}D.")
    if name in VGGS:
        if spatial_dims != 2:
            raise InputError(f"{name} is a 2D network (torchvision's VGG): give a 2D --size (x y) and 2D images, "
                             f"or use a 3D network ({', '.join((*RESNETS, *DENSENETS))}).")
        arguments = {"spatial_dims": 2, "in_channels": 1, "num_classes": num_classes, "head_width": 256}
    elif name in DENSENETS:
        arguments = {"spatial_dims": spatial_dims, "in_channels": 1, "out_channels": num_classes}
    else:
        arguments = {"spatial_dims": spatial_dims, "n_input_channels": 1, "num_classes": num_classes,
                     "conv1_t_stride": 2}
    return {**arguments, **(overrides or {})}


def check_size(name: str, size: tuple[int, ...]) -> None:
    """Refuse model sizes the network would pool away before its classifier."""
    smallest = MIN_SIZE.get(name, 8)
    if any(s < smallest for s in size):
        raise InputError(f"The model size {tuple(size)} is too small for {name}: use at least {smallest} voxels "
                         "per axis.")


def build_network(name: str, arguments: dict) -> torch.nn.Module:
    if name not in NETWORKS:
        raise InputError(f"Unknown network {name!r}: use one of {', '.join(NETWORKS)}.")
    return NETWORKS[name](**arguments)
