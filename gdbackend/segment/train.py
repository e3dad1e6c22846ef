"""Train a U-Net on cases (files or volumes): checks first, then cache model-space cases, then the engine."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch
from monai.metrics.meandice import compute_dice

from ..device import seed_everything
from ..errors import InputError
from ..train import Event, TrainConfig, TrainResult, fit
from .data import Case, check_case
from .inference import TASK, model_probabilities
from .losses import build_loss
from .networks import build_network, divisor, network_arguments
from .preprocess import image_to_model, label_to_model, normaliser
from .transforms import PatchDataset, class_map


def default_patch(spatial_dims: int) -> tuple[int, ...]:
    return (96, 96, 96) if spatial_dims == 3 else (256, 256)


def median_spacing(cases: list[Case]) -> tuple[float, ...]:
    return tuple(float(s) for s in np.median([c.image.spacing for c in cases], axis=0))


def _check_patch(patch: tuple[int, ...], dims: int, network: str, arguments: dict) -> None:
    k = divisor(network, arguments)
    if len(patch) != dims or any(p < k or p % k for p in patch):
        raise InputError(f"The patch size {tuple(patch)} must have {dims} values, each a multiple of {k} "
                         f"for this {network}: e.g. {default_patch(dims)}.")


def prepare(cases: list[Case], labels: list[dict], spacing: tuple[float, ...],
            normalisation: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """(image (1, ...), class map) on the model grid for each case: what training caches."""
    out = []
    values = [lb["value"] for lb in labels]
    for case in cases:
        image, grid = image_to_model(case.image, spacing, normalisation, f"image of case {case.name}")
        classes = class_map(label_to_model(case.label, grid).array, values)
        out.append((image.array[None], classes))
    return out


def dice_validator(cases: list[tuple[np.ndarray, np.ndarray]], card: dict) -> Callable[[torch.nn.Module], dict]:
    """Mean foreground Dice on the model grid of the validation cases (cheap enough for every epoch)."""
    n = len(card["labels"]) + 1

    def validate(model: torch.nn.Module) -> dict[str, float]:
        device = next(model.parameters()).device
        scores = []
        for image, classes in cases:
            pred = model_probabilities(model, card, image, device, overlap=0.25).argmax(0)
            onehot = [torch.stack([torch.as_tensor(a == k) for k in range(1, n)])[None].float()
                      for a in (pred, classes)]
            scores.append(compute_dice(*onehot, include_background=True, ignore_empty=False)[0])
        return {"dice": float(torch.stack(scores).nanmean())}
    return validate


def train_segmentation(train_cases: list[Case], val_cases: list[Case], labels: list[dict], config: TrainConfig,
                       out: str | Path | None = None, *, network: str = "unet", network_overrides: dict | None = None,
                       patch: tuple[int, ...] | None = None, spacing: tuple[float, ...] | None = None,
                       normalisation: str = "percentile", loss: str = "dicece", samples_per_case: int = 4,
                       augment: bool = True, resume: str | Path | None = None,
                       on_event: Callable[[Event], None] | None = None,
                       cancel: Callable[[], bool] | None = None, card_extra: dict | None = None,
                       validation: Callable[[dict], Callable[[torch.nn.Module], dict]] | None = None,
                       ) -> tuple[TrainResult, dict]:
    """Train and return (engine result, model card). Every input is checked before the first step.
    A task built on segmentation (lesion detection) adds to the card with `card_extra` and measures
    validation its own way with `validation(card)` instead of Dice on `val_cases`."""
    if not train_cases:
        raise InputError("No training cases: give at least one image with its label map.")
    if samples_per_case < 1:
        raise InputError(f"samples_per_case must be at least 1, got {samples_per_case}.")
    for case in [*train_cases, *val_cases]:
        check_case(case, labels)
    dims = train_cases[0].image.ndim
    if any(c.image.ndim != dims for c in [*train_cases, *val_cases]):
        raise InputError("The cases mix 2D and 3D images: train on one kind at a time.")
    spacing = tuple(spacing) if spacing else median_spacing(train_cases)
    if len(spacing) == 1:
        spacing = spacing * dims
    patch = tuple(patch) if patch else default_patch(dims)
    if len(patch) == 1:
        patch = patch * dims
    arguments = network_arguments(network, dims, 1, len(labels) + 1, network_overrides)
    _check_patch(patch, dims, network, arguments)
    normaliser(normalisation)
    criterion = build_loss(loss)
    seed_everything(config.seed)   # the initial weights too: the same seed gives the same model on a CPU
    model = build_network(network, arguments)

    train_arrays = prepare(train_cases, labels, spacing, normalisation)
    val_arrays = prepare(val_cases, labels, spacing, normalisation)
    card = {"task": TASK, "network": network.lower(), "arguments": arguments, "spatial_dims": dims,
            "in_channels": 1, "channels": ["image"], "spacing": list(spacing), "normalisation": normalisation,
            "patch": list(patch), "labels": labels, "loss": loss,
            "data": {"train_cases": [c.name for c in train_cases], "val_cases": [c.name for c in val_cases],
                     "samples_per_case": samples_per_case, "augment": augment,
                     "foreground_fraction": [float((c > 0).mean()) for _, c in train_arrays]},
            **(card_extra or {})}
    dataset = PatchDataset(train_arrays, patch, len(labels) + 1, samples_per_case, augment, config.seed)

    def loss_fn(net: torch.nn.Module, batch: dict) -> torch.Tensor:
        return criterion(net(batch["image"]), batch["label"])

    validate = validation(card) if validation else dice_validator(val_arrays, card) if val_arrays else None
    result = fit(model, loss_fn, dataset, config, card=card, validate=validate, out=out, resume=resume,
                 on_event=on_event, cancel=cancel)
    return result, card
