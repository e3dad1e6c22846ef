"""The training loop shared by every learning task (segmentation, classification, detection).

The task supplies the network, a loss function, a dataset of samples and (optionally) a
validation function and a model card; the engine does everything else: optimiser and schedule,
mixed precision, channels-last, torch.compile, gradient clipping, checkpoints, validation and
early stopping, progress events, cancellation and DistributedDataParallel.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import Dataset, DistributedSampler

from ..device import choose_device, seed_everything
from ..errors import Cancelled, InputError, ResourceError
from . import checkpoint, distributed
from .batch import batch_len, memory_format, to_device
from .events import Event
from .loader import EpochSampler, batches, epoch_loader, loader_workers
from .optim import build_optimizer, build_schedule, micro_batch_size
from .options import TrainConfig
from .state import TrainState

LossFn = Callable[[torch.nn.Module, Any], torch.Tensor]
Validate = Callable[[torch.nn.Module], dict[str, float]]


@dataclass
class TrainResult:
    """What `fit` gives back; the files hold the same weights and records."""
    model: torch.nn.Module           # the network with the last weights, on the training device
    history: list[dict[str, float]] = field(default_factory=list)
    best: dict[str, float] = field(default_factory=dict)
    best_path: Path | None = None
    last_path: Path | None = None
    stopped_early: bool = False
    seconds: float = 0.0


def last_path(best: str | Path) -> Path:
    """MODEL.pt keeps the best weights, MODEL.last.pt the latest (what --resume continues)."""
    best = Path(best)
    return best.with_name(f"{best.stem}.last{best.suffix or '.pt'}")


def _check(config: TrainConfig, n_samples: int, world: distributed.World, validates: bool) -> None:
    """Refuse settings the loop cannot run with, before any work (and on every process alike)."""
    if config.epochs < 1:
        raise InputError(f"--epochs must be at least 1, got {config.epochs}.")
    if n_samples < 1:
        raise InputError("The training set is empty: give at least one training case.")
    if config.batch_size % world.size:
        raise InputError(f"The global batch size {config.batch_size} must divide among {world.size} processes: "
                         f"use a multiple of {world.size}.")
    if config.mode not in ("min", "max"):
        raise InputError(f"mode must be 'min' or 'max', got {config.mode!r}.")
    if config.num_workers is not None and config.num_workers < 0:
        raise InputError(f"num_workers must be 0 or more, got {config.num_workers}.")
    if config.val_every < 1:
        raise InputError(f"val_every must be at least 1, got {config.val_every}.")
    if config.monitor != "loss" and not validates:
        raise InputError(f"Cannot monitor {config.monitor!r} without a validation function: monitor 'loss' "
                         "or give validation data.")


def fit(model: torch.nn.Module, loss_fn: LossFn, train_data: Dataset, config: TrainConfig, *, card: dict,
        validate: Validate | None = None, collate: Callable | None = None, out: str | Path | None = None,
        resume: str | Path | None = None, on_event: Callable[[Event], None] | None = None,
        cancel: Callable[[], bool] | None = None) -> TrainResult:
    """Train `model` by minimising `loss_fn(model, batch)` over `train_data`; see the package docstring.

    Args:
        model: the network, on any device (it is moved to the training device).
        loss_fn: loss_fn(network, batch) -> scalar loss tensor; the batch is on the training device.
        train_data: a map-style dataset (with `set_epoch(epoch)`, if it has one, called for every epoch).
        config: the training settings.
        card: the model card: plain values and a "task" name.
        validate: validate(model) -> {metric: value}, in eval mode under no_grad, on rank 0; None: no validation.
        collate: the data loader's collate function; None: torch's default.
        out: the model file (.pt) for the best weights; MODEL.last.pt gets the latest. None: no files.
        resume: a MODEL.last.pt to continue from.
        on_event: receives the progress events (on rank 0).
        cancel: polled before every batch; True stops training with `Cancelled`.
    """
    start = time.perf_counter()
    world, device = distributed.join(choose_device(config.device))
    finished = False
    try:
        _check(config, len(train_data), world, validate is not None)
        seed_everything(config.seed)
        trainer = Trainer(model, loss_fn, train_data, config, card=card, validate=validate, collate=collate, out=out,
                          on_event=on_event, cancel=cancel, world=world, device=device, started=start)
        if resume is not None:
            trainer.resume(resume)
        result = trainer.run()
        finished = True
        return result
    finally:
        distributed.leave(world, finished)


class Trainer:
    """One run of the loop: the network on its device, its data loader, optimiser, schedule and gradient
    scaler, and the TrainState that MODEL.last.pt keeps. Arguments as `fit`'s, plus the process group
    (`world`), the training `device` and the `started` time (time.perf_counter()) that progress counts from."""

    def __init__(self, model: torch.nn.Module, loss_fn: LossFn, train_data: Dataset, config: TrainConfig, *,
                 card: dict, validate: Validate | None, collate: Callable | None, out: str | Path | None,
                 on_event: Callable[[Event], None] | None, cancel: Callable[[], bool] | None,
                 world: distributed.World, device: torch.device, started: float) -> None:
        self.config, self.card, self.world, self.device, self.started = config, card, world, device, started
        self.loss_fn, self.validate, self.on_event, self.cancel = loss_fn, validate, on_event, cancel
        self.best_path = Path(out) if out is not None else None
        self.latest = last_path(out) if out is not None else None
        cuda = device.type == "cuda"
        self.memory_format = memory_format(train_data, device, config.channels_last)
        self.model = model.to(device) if self.memory_format is None else \
            model.to(device, memory_format=self.memory_format)
        self.net = self.model            # what the loss sees: DDP- or compile-wrapped by run()

        self.sampler = EpochSampler(DistributedSampler(train_data, num_replicas=world.size, rank=world.rank,
                                                       shuffle=True, seed=config.seed or 0))
        self.loader = epoch_loader(train_data, self.sampler,
                                   micro_batch_size(config.optimizer, config.batch_size // world.size),
                                   loader_workers(config.num_workers, device), collate, pin_memory=cuda)
        self.full_batch = config.optimizer.lower() == "gd"   # one step per epoch, gradients accumulated
        steps_per_epoch = 1 if self.full_batch else len(self.loader)
        self.total_steps = steps_per_epoch * config.epochs

        self.optimizer = build_optimizer(config.optimizer, self.model.parameters(), config.lr, config.momentum,
                                         config.nesterov, config.weight_decay)
        self.schedule = build_schedule(config.schedule, self.optimizer, self.total_steps,
                                       config.warmup_epochs * steps_per_epoch, config.step_epochs * steps_per_epoch,
                                       config.gamma)
        self.use_amp = config.amp and cuda
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp)
        self.state = TrainState()
        self.resumed_step = 0            # steps done before this process started, for the ETA

    def resume(self, path: str | Path) -> None:
        """Continue from a MODEL.last.pt: weights, optimiser, schedule, scaler, random states and progress.

        Args:
            path: the checkpoint (a best-model file holds no training state and is refused).
        """
        payload = checkpoint.load(path, task=self.card["task"], map_location=self.device)
        checkpoint.load_weights(self.model, payload["model"], path)
        train = payload.get("train")
        if not train:
            raise InputError(f"{path} holds no training state (a best-model file): resume from "
                             f"{last_path(path).name} instead.")
        self.optimizer.load_state_dict(train["optimizer"])
        self.schedule.load_state_dict(train["schedule"])
        self.scaler.load_state_dict(train["scaler"])
        checkpoint.set_rng_states(train["rng"])
        self.state = TrainState.from_checkpoint(train)

    def run(self) -> TrainResult:
        """Train the remaining epochs, or until early stopping."""
        if self.world.size > 1:
            cuda = self.device.type == "cuda"
            self.net = DistributedDataParallel(self.model, device_ids=[self.device.index] if cuda else None)
        if self.config.compile:
            self.net = torch.compile(self.net)
        self.resumed_step = self.state.step
        stopped = False
        self.model.train()
        for epoch in range(self.state.epoch, self.config.epochs):
            if self.validate_and_checkpoint(self.train_epoch(epoch)):
                stopped = True
                break
        self._emit("done", self.state.epoch, metrics=self.state.best_metrics, message="early stop" if stopped else "")
        return TrainResult(self.model, self.state.history, self.state.best_metrics, self.best_path, self.latest,
                           stopped, time.perf_counter() - self.started)

    def train_epoch(self, epoch: int) -> dict[str, float]:
        """One pass over this process's share of the training set; returns the epoch's record.

        Args:
            epoch: the 0-based epoch; it seeds the shuffle and the dataset's augmentation, so a resume repeats them.

        Returns:
            {"epoch": 1-based epoch, "loss": mean training loss per sample, "lr": learning rate at the end}.
        """
        self.sampler.set_epoch(epoch)   # and through it the dataset's set_epoch: exact resume, in every worker
        loss_sum, seen = 0.0, 0
        last = len(self.loader) - 1
        self.optimizer.zero_grad(set_to_none=True)
        for i, batch in enumerate(batches(self.loader)):
            if self.cancel is not None and self.cancel():
                raise Cancelled(f"Training cancelled in epoch {epoch + 1}: the last complete checkpoint "
                                f"({self.latest.name if self.latest else 'none'}) is kept; use --resume to go on.")
            batch = to_device(batch, self.device, self.memory_format)
            n = batch_len(batch)
            loss = self._backward(batch, n, epoch)
            loss_sum += loss * n
            seen += n
            if self.full_batch and i < last:
                continue
            self._step()
            self._emit("step", epoch + 1, loss=loss)
        self.state.epoch = epoch + 1
        return {"epoch": epoch + 1, "loss": loss_sum / max(seen, 1), "lr": self._lr()}

    def validate_and_checkpoint(self, record: dict[str, float]) -> bool:
        """After an epoch: validate when due (rank 0), keep the best weights in MODEL.pt and the resumable state
        in MODEL.last.pt; returns whether every process stops early.

        Args:
            record: the epoch's record from `train_epoch`; validation metrics are added to it.
        """
        epoch = record["epoch"]
        stopped = False
        due = epoch % self.config.val_every == 0 or epoch == self.config.epochs
        if due and self.world.main:
            stopped = self._validate(record)
        self.state.history.append(record)
        if self.latest is not None and self.world.main:
            self._save(self.latest, with_train=True)
        self._emit("epoch", epoch, loss=record["loss"], metrics=record)
        return bool(distributed.broadcast(stopped, self.world))

    def _validate(self, record: dict[str, float]) -> bool:
        """Add the validation metrics to `record`, keep the weights if they are the best; whether to stop."""
        epoch = record["epoch"]
        if self.validate is not None:
            self.model.eval()
            with torch.no_grad():
                record.update({k: float(v) for k, v in self.validate(self.model).items()})
            self.model.train()
            self._emit("validation", epoch, loss=record["loss"], metrics=record)
        if self.config.monitor not in record:
            raise InputError(f"Cannot monitor {self.config.monitor!r}: the metrics are {', '.join(record)}.")
        if self.state.count_validation(record, record[self.config.monitor], self.config.mode) and self.best_path:
            self._save(self.best_path, with_train=False)
            self._emit("checkpoint", epoch, message=str(self.best_path))
        return self.config.patience is not None and self.state.bad >= self.config.patience

    def _backward(self, batch: Any, n: int, epoch: int) -> float:
        """Accumulate the gradient of one batch of `n` samples; returns its loss."""
        try:
            with torch.autocast(self.device.type, dtype=torch.float16, enabled=self.use_amp):
                loss = self.loss_fn(self.net, batch)
            if not torch.isfinite(loss):
                raise InputError(f"The loss became {loss.item()} in epoch {epoch + 1}: lower the learning "
                                 "rate (--lr), add gradient clipping, or check the inputs for extreme values.")
            weight = n / len(self.sampler) if self.full_batch else 1.0   # full batch: the mean over the epoch
            self.scaler.scale(loss * weight).backward()
        except torch.OutOfMemoryError:
            raise ResourceError(f"Out of {self.device.type} memory with {n} samples per step: lower the batch "
                                "size or the patch size, or train on the CPU (--device cpu).") from None
        return loss.item()

    def _step(self) -> None:
        """One optimiser step on the accumulated gradient, then the schedule's."""
        if self.config.grad_clip:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.schedule.step()
        self.state.step += 1

    def _lr(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    def _emit(self, kind: str, epoch: int, **values: Any) -> None:
        """Send an Event (rank 0 only), with the elapsed time and an ETA from the steps this process did."""
        if self.on_event is None or not self.world.main:
            return
        elapsed = time.perf_counter() - self.started
        done = self.state.step - self.resumed_step
        eta = elapsed / done * (self.total_steps - self.state.step) if done else None
        self.on_event(Event(kind, epoch, self.config.epochs, self.state.step, self.total_steps, lr=self._lr(),
                            elapsed_s=elapsed, eta_s=eta, **values))

    def _save(self, path: Path, with_train: bool) -> None:
        """Write a checkpoint: the weights and the full model card, with the training state if `with_train`."""
        config = asdict(self.config)
        train = None
        if with_train:
            train = {**asdict(self.state), "optimizer": self.optimizer.state_dict(),
                     "schedule": self.schedule.state_dict(), "scaler": self.scaler.state_dict(),
                     "rng": checkpoint.rng_states(), "config": config}
        card = {**self.card, "metrics": self.state.best_metrics, "history": self.state.history,
                "epochs_trained": self.state.epoch, "train_config": config, "torch_version": str(torch.__version__)}
        checkpoint.save(path, self.model.state_dict(), card, train)
