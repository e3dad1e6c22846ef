"""Apply a segmentation model: model space, MONAI sliding window with Gaussian blending, optional
test-time flips, probabilities back onto the input grid, optional largest-component clean-up."""
from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import SimpleITK as sitk
import torch
from monai.inferers import SlidingWindowInferer

from ..device import choose_device, model_on, with_memory_fallback
from ..errors import InputError, ModelError
from ..models.resolve import resolve_model
from ..train import load_network
from ..volume import Volume
from .bundle import is_bundle, load_bundle
from .bundle_run import BundleModel
from .networks import build_network
from .preprocess import image_to_model

TASK = "segment"
Report = Callable[[str], None]


def load_model(path: str | Path, device: str | torch.device = "cpu",
               trust: bool = False) -> tuple[torch.nn.Module, dict]:
    """(network in eval mode on `device`, model card) of a segmentation checkpoint or a MONAI bundle folder, by
    path or registry name (a shipped or fetched model); `trust` consents, once, to run a bundle's own code (its
    scripts/, expressions beyond simple ones)."""
    path = resolve_model(path, TASK)
    if is_bundle(path):
        return load_bundle(path, choose_device(device), trust)
    return load_network(path, TASK, build_network, device)


SW_BATCH = 2  # windows per network call; halved on out-of-memory errors


def inferer(card: dict, overlap: float = 0.5, sw_batch_size: int = SW_BATCH) -> SlidingWindowInferer:
    return SlidingWindowInferer(roi_size=card["patch"], sw_batch_size=sw_batch_size, overlap=overlap,
                                mode="gaussian")


def model_probabilities(model: torch.nn.Module, card: dict, image: np.ndarray, device: torch.device,
                        flips: bool = False, overlap: float = 0.5, report: Report | None = None,
                        sw_batch_size: int = SW_BATCH) -> np.ndarray:
    """Softmax probabilities (C, ...) of a model-space image (channels, ...); flips average left-right.
    Out of memory, it retries with fewer windows at a time, then on the CPU, and says so through `report`."""

    def run(on: torch.device, batch: int) -> np.ndarray:
        with model_on(model, on):
            x = torch.as_tensor(image[None], dtype=torch.float32, device=on)
            infer = inferer(card, overlap, batch)
            amp = torch.autocast("cuda") if on.type == "cuda" else contextlib.nullcontext()
            with torch.no_grad(), amp:
                prob = torch.softmax(infer(x, model).float(), 1)
                if flips:
                    axis = x.ndim - 1  # the left-right axis the model was trained to be symmetric about
                    prob = 0.5 * (prob + torch.softmax(infer(x.flip(axis), model).float(), 1).flip(axis))
            return prob[0].cpu().numpy()

    return with_memory_fallback(run, device, sw_batch_size, report)


def check_channels(images: list[Volume], card: dict) -> None:
    expected = card["in_channels"]
    if len(images) != expected:
        names = card.get("channels") or [f"channel {c + 1}" for c in range(expected)]
        raise ModelError(f"The model expects {expected} input channel(s) ({', '.join(names)}) but {len(images)} "
                         "image(s) were given: give one image per channel, in that order.")
    if images[0].ndim != card["spatial_dims"]:
        raise ModelError(f"The model is {card['spatial_dims']}D but the image is {images[0].ndim}D: "
                         f"use a {images[0].ndim}D model.")
    if card.get("source") != "monai-bundle" and any(not im.same_grid(images[0]) for im in images[1:]):
        raise InputError("The input channels are on different grids: resample them onto the first one.")


def to_model_space(images: list[Volume], card: dict) -> tuple[np.ndarray, Volume]:
    """(normalised channels stacked (C, ...) on the model grid, that grid)."""
    arrays, grid = [], None
    for k, im in enumerate(images):
        a, grid = image_to_model(im, tuple(card["spacing"]), card["normalisation"], f"input channel {k + 1}")
        arrays.append(a.array)
    return np.stack(arrays), grid


def predict(model: torch.nn.Module, card: dict, images: Volume | list[Volume], flips: bool = False,
            largest_component: bool = False, overlap: float | None = None, report: Report | None = None,
            files: list[str | Path] | None = None) -> Volume:
    """Label map (the card's label values) on the grid of the (first) input image; `report` gets messages
    such as the out-of-memory fallback (default: the "gdbackend" logger). `overlap` None is the model's own:
    0.5 for GDImaging models, the inferer's setting for a MONAI bundle (which runs its own pipeline).
    `files`, the images' files, lets a MONAI bundle read them with its own reader, exactly as MONAI does."""
    images = [images] if isinstance(images, Volume) else list(images)
    check_channels(images, card)
    if isinstance(model, BundleModel):
        classes = model.labels(images, flips, overlap, report, files)
        if largest_component:
            classes = keep_largest_components(classes, int(classes.max()))
        return images[0].with_array(classes)
    overlap = 0.5 if overlap is None else overlap
    device = next(model.parameters()).device
    x, grid = to_model_space(images, card)
    prob = model_probabilities(model, card, x, device, flips, overlap, report)
    target = images[0]
    # probabilities, not labels, are resampled: smooth borders at the input's (often finer) resolution
    back = np.stack([grid.with_array(p).resample_to(target, "linear", default=float(c == 0)).array
                     for c, p in enumerate(prob)])
    classes = back.argmax(0)
    if largest_component:
        classes = keep_largest_components(classes, len(back) - 1)
    values = np.array([0] + [lb["value"] for lb in card["labels"]], dtype=np.uint16)
    return target.with_array(values[classes])


def keep_largest_components(classes: np.ndarray, n_labels: int) -> np.ndarray:
    """Each label keeps only its largest connected part (SimpleITK, full connectivity); the rest -> 0."""
    out = classes.copy()
    for k in range(1, n_labels + 1):
        mask = classes == k
        if not mask.any():
            continue
        parts = sitk.RelabelComponent(sitk.ConnectedComponent(sitk.GetImageFromArray(mask.astype(np.uint8)), True),
                                      sortByObjectSize=True)
        out[mask & (sitk.GetArrayFromImage(parts) != 1)] = 0
    return out
