"""The training options, declared once: the engine's settings (`TrainConfig`), the options that every
`gd ... train` command and training job takes (`OPTIONS`, each task's defaults in `TASK_DEFAULTS`), and the
plain values a panel shows (`OPTIMIZERS`, `SCHEDULES`, `defaults(task)`).

No torch here: the Slicer panel reads this module before PyTorch is installed."""
from __future__ import annotations

import argparse
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

OPTIMIZERS = ("gd", "sgd", "minibatch", "adam", "adamw")
SCHEDULES = ("constant", "cosine", "step")


def _option(default: Any, help: str, *, choices: tuple[str, ...] = (), flag: str = "") -> Any:
    """A setting that every `gd ... train` command and training job takes; `help` gives its unit."""
    return field(default=default, metadata={"help": help, "choices": choices, "flag": flag})


@dataclass
class TrainConfig:
    """The training engine's settings. The fields made with `_option` are the shared options, each described
    by its `help` (as `gd segment train --help` shows it); the others are set by the task or by code."""
    epochs: int = _option(10, "passes over the training set")
    optimizer: str = _option("adam", "gd: full batch, sgd: one sample per step, minibatch: SGD with momentum, "
                             "adam, adamw", choices=OPTIMIZERS)
    lr: float = _option(1e-3, "peak learning rate, reached after the warm-up")
    batch_size: int = _option(2, "samples per optimiser step, all processes together")
    momentum: float = _option(0.9, "momentum of the minibatch optimiser")
    nesterov: bool = _option(False, "Nesterov momentum (minibatch optimiser)")
    weight_decay: float = _option(0.0, "L2 weight penalty (adamw: decoupled weight decay); 0: none")
    schedule: str = _option("constant", "learning-rate schedule after the warm-up", choices=SCHEDULES)
    warmup_epochs: int = _option(0, "epochs of linear learning-rate warm-up")
    step_epochs: int = _option(0, "step schedule: epochs between rate cuts (0: none)")
    gamma: float = _option(0.1, "step schedule: factor of each rate cut")
    grad_clip: float | None = _option(None, "largest gradient norm (none: no clipping)")
    amp: bool = _option(True, "mixed precision on CUDA (--no-amp: fp32, faster for small 3D networks, "
                        "docs/training.md)")
    channels_last: bool = False      # on CUDA only
    compile: bool = False            # torch.compile the network
    device: str = _option("auto", "auto, cpu, cuda, cuda:N or mps")
    seed: int | None = _option(0, "random seed of the weights, the split, the shuffle and the augmentation "
                               "(none: unseeded)")
    val_every: int = _option(1, "epochs between validations")
    monitor: str = "loss"            # a key of validate()'s metrics, or "loss" (training loss)
    mode: str = "min"                # min | max: whether a lower or a higher `monitor` is better
    patience: int | None = _option(None, "validations without improvement before stopping early (none: never)")
    num_workers: int | None = _option(None, "data-loading processes (none: 0 on a CPU, up to 8 on a GPU)",
                                      flag="--workers")


@dataclass(frozen=True)
class Option:
    """One shared training option, as a command line and a job spec take it."""
    name: str                     # the TrainConfig field and the job option
    flag: str                     # the command-line flag
    type: type                    # bool, int, float or str
    nullable: bool                # a job may give null; a command leaves the option out
    default: Any                  # the engine's; TASK_DEFAULTS may change it for a task
    choices: tuple[str, ...]      # allowed values; empty: any of `type`
    help: str


def _options() -> tuple[Option, ...]:
    hints = typing.get_type_hints(TrainConfig)
    found = []
    for f in fields(TrainConfig):
        if "help" not in f.metadata:
            continue
        kinds = typing.get_args(hints[f.name]) or (hints[f.name],)
        kind = next(k for k in kinds if k is not type(None))
        found.append(Option(f.name, f.metadata["flag"] or "--" + f.name.replace("_", "-"), kind,
                            type(None) in kinds, f.default, f.metadata["choices"], f.metadata["help"]))
    return tuple(found)


OPTIONS: tuple[Option, ...] = _options()
DEFAULTS: dict[str, Any] = {o.name: o.default for o in OPTIONS}
# a job spec's JSON types of each option (float: any number; NoneType: null)
JOB_TYPES: dict[str, tuple[type, ...]] = {o.name: (o.type, type(None)) if o.nullable else (o.type,) for o in OPTIONS}
# each task's epochs, learning rate and batch size, and what else its networks need
TASK_DEFAULTS: dict[str, dict[str, Any]] = {
    "segment": {"epochs": 100, "lr": 3e-3, "batch_size": 2},
    "classify": {"epochs": 30, "lr": 1e-3, "batch_size": 16, "schedule": "cosine"},
    "detect": {"epochs": 10, "lr": 3e-4, "batch_size": 4, "grad_clip": 10.0},
}


def defaults(task: str) -> dict[str, Any]:
    """Every shared option's default when training for `task`.

    Args:
        task: "segment", "classify" or "detect".
    """
    return {**DEFAULTS, **TASK_DEFAULTS[task]}


def add_training_options(parser: argparse.ArgumentParser, task: str) -> None:
    """Add the shared options, with `task`'s defaults, to a `gd TASK train` parser as its "training" group.

    Args:
        parser: the command's parser.
        task: "segment", "classify" or "detect".
    """
    group = parser.add_argument_group("training")
    values = defaults(task)
    for o in OPTIONS:
        if o.type is bool:   # --amp / --no-amp
            group.add_argument(o.flag, dest=o.name, action=argparse.BooleanOptionalAction, default=values[o.name],
                               help=o.help)
        else:
            group.add_argument(o.flag, dest=o.name, type=o.type, default=values[o.name], choices=o.choices or None,
                               metavar=o.flag.lstrip("-").upper() if not o.choices else None, help=o.help)


def training_config(values: Mapping[str, Any], task: str, metric: str | None) -> TrainConfig:
    """The engine's settings for `task`: its defaults, overridden by the options given in `values`. With a
    validation metric the checkpoint kept is the one with the highest metric, else the lowest training loss.

    Args:
        values: option values by name: `vars()` of parsed `gd TASK train` arguments, or a job's options;
            keys that are not shared options are ignored.
        task: "segment", "classify" or "detect".
        metric: the validation metric to keep the best checkpoint by (higher is better); None when there is
            no validation data.
    """
    given = {o.name: values[o.name] for o in OPTIONS if o.name in values}
    return TrainConfig(**{**TASK_DEFAULTS[task], **given}, monitor=metric or "loss", mode="max" if metric else "min")
