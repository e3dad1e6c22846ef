"""Train a ResNet classifier with the shared engine: checks, then cached model inputs, then `fit`."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch.utils.data import Dataset

from ..device import seed_everything
from ..errors import InputError
from ..segment.preprocess import normaliser
from ..train import Event, TrainConfig, TrainResult, fit
from .data import Sample, class_names
from .metrics import classification_metrics
from .networks import build_network, check_size, network_arguments
from .predict import TASK, predict_probabilities, prepare_inputs

BALANCING = ("none", "weights", "sampling")


class InputDataset(Dataset):
    """Cached inputs with random flips; with `balanced`, each epoch draws as many samples of every class
    (seeded per epoch through `set_epoch`, which the engine calls, so a resumed run repeats exactly).
    When the last batch would hold a single sample, one more sample is drawn: the engine's loader keeps
    incomplete batches, and BatchNorm cannot train on one sample whose features have shrunk to 1 voxel."""

    def __init__(self, inputs: np.ndarray, labels: np.ndarray, balanced: bool, augment: bool, seed: int | None,
                 batch_size: int):
        self.inputs, self.labels = torch.as_tensor(inputs), torch.as_tensor(labels)
        self.balanced, self.augment, self.seed = balanced, augment, seed or 0
        self.length = len(labels) + (1 if batch_size > 1 and len(labels) % batch_size == 1 else 0)
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        rng = np.random.default_rng([self.seed, epoch])
        n = self.length
        if self.balanced:
            groups = [np.flatnonzero(self.labels.numpy() == c) for c in np.unique(self.labels.numpy())]
            self.index = rng.permutation(np.concatenate([rng.choice(g, n // len(groups) + 1) for g in groups]))[:n]
        else:
            self.index = np.arange(n) % len(self.labels)
        self.flips = rng.random((n, self.inputs.ndim - 2)) < 0.5 if self.augment else np.zeros((n, 0), bool)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> dict:
        x = self.inputs[self.index[i]]
        axes = [a + 1 for a in np.flatnonzero(self.flips[i])]
        return {"image": x.flip(axes) if axes else x, "label": self.labels[self.index[i]]}


def train_classifier(train: list[Sample], val: list[Sample], config: TrainConfig, out: str | Path | None = None, *,
                     network: str = "resnet18", classes: list[str] | None = None, size: tuple[int, ...] = (32, 32, 32),
                     spacing: tuple[float, ...] | None = None, normalisation: str = "percentile",
                     margin: float = 0.0, balance: str = "weights", label_smoothing: float = 0.0, augment: bool = True,
                     resume: str | Path | None = None, on_event: Callable[[Event], None] | None = None,
                     cancel: Callable[[], bool] | None = None) -> tuple[TrainResult, dict]:
    """Train and return (engine result, model card). Every input is checked before the first step."""
    if not train:
        raise InputError("No training samples: give at least one image per class.")
    if balance not in BALANCING:
        raise InputError(f"Unknown balancing {balance!r}: use one of {', '.join(BALANCING)}.")
    if not 0 <= label_smoothing < 1:
        raise InputError(f"Label smoothing must be in [0, 1), got {label_smoothing}.")
    classes = class_names(train, classes)
    unknown = sorted({s.label for s in val} - set(classes))
    if unknown:
        raise InputError(f"Validation label(s) {', '.join(map(str, unknown))} are not among the training classes "
                         f"{', '.join(classes)}.")
    dims = len(size)
    if spacing is not None and len(spacing) != dims:
        raise InputError(f"--spacing needs {dims} values like --size {tuple(size)}, got {tuple(spacing)}.")
    check_size(network, size)
    normaliser(normalisation)
    arguments = network_arguments(network, dims, len(classes))
    card = {"task": TASK, "network": network, "arguments": arguments, "spatial_dims": dims, "in_channels": 1,
            "channels": ["image"], "size": list(size), "spacing": list(spacing) if spacing else None,
            "normalisation": normalisation, "margin": margin, "classes": classes,
            "balance": balance, "label_smoothing": label_smoothing}
    x_train = prepare_inputs(train, card)
    y_train = np.array([classes.index(s.label) for s in train])
    x_val = prepare_inputs(val, card) if val else None
    y_val = np.array([classes.index(s.label) for s in val])
    counts = np.bincount(y_train, minlength=len(classes))
    card["data"] = {"train_samples": len(train), "val_samples": len(val), "class_counts": counts.tolist(),
                    "augment": augment}
    weight = (torch.as_tensor(counts.sum() / (len(classes) * counts), dtype=torch.float32) if balance == "weights"
              else None)
    criterion = torch.nn.CrossEntropyLoss(weight=weight, label_smoothing=label_smoothing)
    seed_everything(config.seed)   # the initial weights too, so that a run with a seed repeats
    model = build_network(network, arguments)

    def loss_fn(net: torch.nn.Module, batch: dict) -> torch.Tensor:
        return criterion.to(batch["image"].device)(net(batch["image"]), batch["label"])

    def validate(net: torch.nn.Module) -> dict[str, float]:
        metrics = classification_metrics(predict_probabilities(net, x_val), y_val)
        return {k: v for k, v in metrics.items() if k != "confusion"}

    dataset = InputDataset(x_train, y_train, balance == "sampling", augment, config.seed, config.batch_size)
    result = fit(model, loss_fn, dataset, config, card=card, validate=validate if val else None, out=out,
                 resume=resume, on_event=on_event, cancel=cancel)
    return result, card
