"""The training options that every `gd ... train` command shares, defined once so that the commands cannot
drift apart; each command gives its own defaults and adds its task's options."""
from __future__ import annotations

import argparse

from .engine import TrainConfig
from .optim import OPTIMIZERS, SCHEDULES


def add_training_options(parser: argparse.ArgumentParser, *, epochs: int, lr: float, batch_size: int,
                         schedule: str = "constant", grad_clip: float | None = None) -> None:
    g = parser.add_argument_group("training")
    g.add_argument("--epochs", type=int, default=epochs)
    g.add_argument("--optimizer", default="adam", choices=OPTIMIZERS)
    g.add_argument("--lr", type=float, default=lr)
    g.add_argument("--batch-size", type=int, default=batch_size)
    g.add_argument("--schedule", default=schedule, choices=SCHEDULES)
    g.add_argument("--warmup-epochs", type=int, default=0)
    g.add_argument("--weight-decay", type=float, default=0.0)
    g.add_argument("--grad-clip", type=float, default=grad_clip, help="largest gradient norm (none: no clipping)")
    g.add_argument("--patience", type=int, help="validations without improvement before stopping early")
    g.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N | mps")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--workers", type=int, help="data-loading processes (default: none on a CPU, up to 8 on a GPU)")
    g.add_argument("--no-amp", action="store_true",
                   help="fp32 on CUDA instead of mixed precision: faster for small 3D networks (docs/training.md)")


def training_config(args: argparse.Namespace, validates: bool, metric: str, **task) -> TrainConfig:
    """The engine's settings from the shared options; with validation data the checkpoint kept is the one
    with the best `metric` (higher is better), else the one with the lowest training loss."""
    return TrainConfig(epochs=args.epochs, optimizer=args.optimizer, lr=args.lr, batch_size=args.batch_size,
                       schedule=args.schedule, warmup_epochs=args.warmup_epochs, weight_decay=args.weight_decay,
                       grad_clip=args.grad_clip, patience=args.patience, device=args.device, seed=args.seed,
                       num_workers=args.workers, amp=not args.no_amp, monitor=metric if validates else "loss",
                       mode="max" if validates else "min", **task)
