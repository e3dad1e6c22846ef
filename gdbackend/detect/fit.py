"""One entry point that trains any detector by name, with each pipeline's own defaults: what the CLI and the
job runner (the Slicer panel) both call, so that the two cannot drift apart."""
from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from ..train import TrainConfig, TrainResult
from .data import DetectionCase
from .model import ALL_ARCHITECTURES
from .retina3d import ARCHITECTURES_3D
from .segmentation import ARCHITECTURES_SEGMENTATION, train_unet_detector
from .train import train_detector
from .train3d import train_retina3d

DEFAULT_ARCHITECTURE = "unet3d"   # the best on few volumes and a CPU (docs/detection.md)
WHOLE_VOLUME = (*ARCHITECTURES_3D, *ARCHITECTURES_SEGMENTATION)
PATCH = {"retinanet3d": ((64, 64, 64), 4), "unet3d": ((32, 32, 32), 16)}   # (patch size, patches per volume)


def check_options(architecture: str, size: int | None = None, crop: int | None = None,
                  patch_size: tuple[int, ...] | None = None, patches_per_volume: int | None = None,
                  weights: str | Path | None = None) -> None:
    """Refuse the options of another pipeline before any data is read, instead of silently ignoring them."""
    if architecture not in ALL_ARCHITECTURES:
        raise InputError(f"Unknown detector {architecture!r}: use one of {', '.join(ALL_ARCHITECTURES)}.")
    if architecture in WHOLE_VOLUME and (size is not None or crop is not None):
        raise InputError(f"{architecture} detects in whole volumes: it takes a 3D patch size (--patch-size), not a "
                         "2.5D slice size (--size) or crop (--crop).")
    if architecture not in WHOLE_VOLUME and (patch_size is not None or patches_per_volume is not None):
        raise InputError(f"{architecture} detects on 2.5D slices: it takes a slice size (--size), not a 3D patch "
                         "size (--patch-size, --patches-per-volume).")
    if architecture in ARCHITECTURES_SEGMENTATION and weights:
        raise InputError(f"Weights files hold torchvision or MONAI detectors; {architecture} trains from random "
                         "weights.")


def train_by_name(architecture: str, train: list[DetectionCase], val: list[DetectionCase], config: TrainConfig,
                  out: str | Path | None = None, *, spacing: tuple[float, ...] | None = None,
                  size: int | None = None, patch_size: tuple[int, ...] | None = None,
                  patches_per_volume: int | None = None, negative_ratio: float = 0.5, crop: int | None = None,
                  weights: str | Path | None = None, **common) -> tuple[TrainResult, dict]:
    """Train `architecture`; `common` goes to every trainer (normalisation, augment, min_size_mm, resume,
    on_event, cancel)."""
    check_options(architecture, size, crop, patch_size, patches_per_volume, weights)
    if architecture in WHOLE_VOLUME:
        patch, per_volume = PATCH[architecture]
        shape = {"spacing": tuple(spacing or (2.0, 2.0, 2.0)), "patch_size": tuple(patch_size or patch),
                 "patches_per_volume": patches_per_volume or per_volume}
        if architecture in ARCHITECTURES_SEGMENTATION:
            return train_unet_detector(train, val, config, out, **shape, **common)
        return train_retina3d(train, val, config, out, weights=weights, **shape, **common)
    return train_detector(train, val, config, out, architecture=architecture,
                          spacing=tuple(spacing or (1.0, 1.0, 2.0)), size=size, negative_ratio=negative_ratio,
                          crop=crop, weights=weights, **common)
