"""The training loop shared by every learning task (segmentation, classification, detection).

The task supplies the network, a loss function, a dataset of samples and (optionally) a
validation function and a model card; the engine does everything else: optimiser and schedule,
mixed precision, channels-last, torch.compile, gradient clipping, checkpoints, validation and
early stopping, progress events, cancellation and DistributedDataParallel.
"""
from __future__ import annotations

import math
import os
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
from .events import Event
from .optim import build_optimizer, build_schedule, micro_batch_size
from .loader import EpochSampler, batches, epoch_loader


@dataclass
class TrainConfig:
    epochs: int = 10
    optimizer: str = "adam"          # gd | sgd | minibatch | adam | adamw
    lr: float = 1e-3
    batch_size: int = 2              # global batch: all processes together
    momentum: float = 0.9            # minibatch only
    nesterov: bool = False
    weight_decay: float = 0.0
    schedule: str = "constant"       # constant | cosine | step
    warmup_epochs: int = 0
    step_epochs: int = 0             # step schedule: multiply the rate by gamma every step_epochs
    gamma: float = 0.1
    grad_clip: float | None = None   # max gradient norm
    amp: bool = True                 # mixed precision, on CUDA only
    channels_last: bool = False      # on CUDA only
    compile: bool = False
    device: str = "auto"
    seed: int | None = 0
    val_every: int = 1
    monitor: str = "loss"            # a key of validate()'s metrics, or "loss" (training loss)
    mode: str = "min"                # min | max
    patience: int | None = None      # validations without improvement before stopping
    num_workers: int | None = None   # data-loading processes; None: none on a CPU, up to 8 on a GPU


@dataclass
class TrainResult:
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


def to_device(batch: Any, device: torch.device, memory_format: torch.memory_format | None = None) -> Any:
    """Move every tensor of a (nested) batch; float images get the channels-last layout when asked."""
    if isinstance(batch, torch.Tensor):
        batch = batch.to(device, non_blocking=True)
        if memory_format is not None and batch.is_floating_point() and batch.ndim in (4, 5):
            batch = batch.contiguous(memory_format=memory_format)
        return batch
    if isinstance(batch, dict):
        return {k: to_device(v, device, memory_format) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, device, memory_format) for v in batch)
    return batch


def _batch_len(batch: Any) -> int:
    """Samples in a batch: a stacked tensor, a dict of them, (inputs, targets) of stacked tensors or of
    per-sample lists (detection), or a list of per-sample dicts."""
    if isinstance(batch, torch.Tensor):
        return len(batch)
    if isinstance(batch, dict):
        return _batch_len(next(iter(batch.values())))
    if isinstance(batch, (list, tuple)) and batch:
        first = batch[0]
        if isinstance(first, torch.Tensor):
            return len(first)
        return len(first) if isinstance(first, (list, tuple)) else len(batch)
    raise TypeError(f"Cannot tell the batch size of a {type(batch).__name__}.")


def _image_ndim(sample: Any) -> int:
    """Spatial rank + 2 of the first float tensor in a sample (to pick channels_last or channels_last_3d)."""
    if isinstance(sample, torch.Tensor) and sample.is_floating_point():
        return sample.ndim + 1
    items = sample.values() if isinstance(sample, dict) else sample if isinstance(sample, (list, tuple)) else ()
    return next((n for n in (_image_ndim(v) for v in items) if n), 0)


def loader_workers(config: TrainConfig, device: torch.device) -> int:
    """Worker processes for the data loader: on a CPU they would take the cores torch computes on; a GPU
    waits for batches that a single process augments one sample at a time."""
    if config.num_workers is not None:
        return config.num_workers
    return min(8, max((os.cpu_count() or 1) - 1, 0)) if device.type == "cuda" else 0


def _check(config: TrainConfig, n_samples: int, world: distributed.World, validates: bool) -> None:
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


def fit(model: torch.nn.Module, loss_fn: Callable[[torch.nn.Module, Any], torch.Tensor], train_data: Dataset,
        config: TrainConfig, *, card: dict, validate: Callable[[torch.nn.Module], dict[str, float]] | None = None,
        collate: Callable | None = None, out: str | Path | None = None, resume: str | Path | None = None,
        on_event: Callable[[Event], None] | None = None, cancel: Callable[[], bool] | None = None) -> TrainResult:
    """Train `model` by minimising `loss_fn(model, batch)` over `train_data`; see the package docstring."""
    start = time.perf_counter()
    world, device = distributed.join(choose_device(config.device))
    finished = False
    try:
        _check(config, len(train_data), world, validate is not None)
        seed_everything(config.seed)
        result = _run(model, loss_fn, train_data, config, card, validate, collate, out, resume, on_event, cancel,
                      world, device, start)
        finished = True
        return result
    finally:
        distributed.leave(world, finished)


def _run(model, loss_fn, train_data, config, card, validate, collate, out, resume, on_event, cancel,
         world, device, start) -> TrainResult:
    cuda = device.type == "cuda"
    memory_format = None
    if config.channels_last and cuda:
        memory_format = torch.channels_last_3d if _image_ndim(train_data[0]) == 5 else torch.channels_last
    model = model.to(device) if memory_format is None else model.to(device, memory_format=memory_format)

    micro = micro_batch_size(config.optimizer, config.batch_size // world.size)
    sampler = EpochSampler(DistributedSampler(train_data, num_replicas=world.size, rank=world.rank, shuffle=True,
                                              seed=config.seed or 0))
    workers = loader_workers(config, device)
    loader = epoch_loader(train_data, sampler, micro, workers, collate, pin_memory=cuda)
    full_batch = config.optimizer.lower() == "gd"
    steps_per_epoch = 1 if full_batch else len(loader)
    total_steps = steps_per_epoch * config.epochs

    optimizer = build_optimizer(config.optimizer, model.parameters(), config.lr, config.momentum,
                                config.nesterov, config.weight_decay)
    schedule = build_schedule(config.schedule, optimizer, total_steps, config.warmup_epochs * steps_per_epoch,
                              config.step_epochs * steps_per_epoch, config.gamma)
    use_amp = config.amp and cuda
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)

    state = {"epoch": 0, "step": 0, "history": [], "best": None, "best_metrics": {}, "bad": 0}
    if resume is not None:
        payload = checkpoint.load(resume, task=card["task"], map_location=device)
        checkpoint.load_weights(model, payload["model"], resume)
        train = payload.get("train")
        if not train:
            raise InputError(f"{resume} holds no training state (a best-model file): resume from "
                             f"{last_path(resume).name} instead.")
        optimizer.load_state_dict(train["optimizer"])
        schedule.load_state_dict(train["schedule"])
        scaler.load_state_dict(train["scaler"])
        checkpoint.set_rng_states(train["rng"])
        state.update({k: train[k] for k in state})

    net = DistributedDataParallel(model, device_ids=[device.index] if cuda else None) if world.size > 1 else model
    if config.compile:
        net = torch.compile(net)

    def emit(kind: str, epoch: int, **kw) -> None:
        if on_event is None or not world.main:
            return
        elapsed = time.perf_counter() - start
        done = state["step"] - resumed_step
        eta = elapsed / done * (total_steps - state["step"]) if done else None
        on_event(Event(kind, epoch, config.epochs, state["step"], total_steps, lr=optimizer.param_groups[0]["lr"],
                       elapsed_s=elapsed, eta_s=eta, **kw))

    def save(path: Path, with_train: bool) -> None:
        train = None
        if with_train:
            train = {**state, "optimizer": optimizer.state_dict(), "schedule": schedule.state_dict(),
                     "scaler": scaler.state_dict(), "rng": checkpoint.rng_states(), "config": asdict(config)}
        full_card = {**card, "metrics": state["best_metrics"], "history": state["history"],
                     "epochs_trained": state["epoch"], "train_config": asdict(config),
                     "torch_version": str(torch.__version__)}
        checkpoint.save(path, model.state_dict(), full_card, train)

    resumed_step = state["step"]
    best_path = Path(out) if out is not None else None
    latest = last_path(out) if out is not None else None
    stopped = False
    model.train()
    for epoch in range(state["epoch"], config.epochs):
        sampler.set_epoch(epoch)   # and through it the dataset's set_epoch: exact resume, in every worker
        loss_sum, seen = 0.0, 0
        per_rank = len(sampler)
        optimizer.zero_grad(set_to_none=True)
        for i, batch in enumerate(batches(loader)):
            if cancel is not None and cancel():
                raise Cancelled(f"Training cancelled in epoch {epoch + 1}: the last complete checkpoint "
                                f"({latest.name if latest else 'none'}) is kept; use --resume to go on.")
            batch = to_device(batch, device, memory_format)
            n = _batch_len(batch)
            try:
                with torch.autocast(device.type, dtype=torch.float16, enabled=use_amp):
                    loss = loss_fn(net, batch)
                if not torch.isfinite(loss):
                    raise InputError(f"The loss became {loss.item()} in epoch {epoch + 1}: lower the learning "
                                     "rate (--lr), add gradient clipping, or check the inputs for extreme values.")
                weight = n / per_rank if full_batch else 1.0
                scaler.scale(loss * weight).backward()
            except torch.OutOfMemoryError:
                raise ResourceError(f"Out of {device.type} memory with {n} samples per step: lower the batch "
                                    "size or the patch size, or train on the CPU (--device cpu).") from None
            loss_sum += loss.item() * n
            seen += n
            if full_batch and i < len(loader) - 1:
                continue
            if config.grad_clip:
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            optimizer.zero_grad(set_to_none=True)
            schedule.step()
            state["step"] += 1
            emit("step", epoch + 1, loss=loss.item())

        record = {"epoch": epoch + 1, "loss": loss_sum / max(seen, 1), "lr": optimizer.param_groups[0]["lr"]}
        state["epoch"] = epoch + 1
        validated = (epoch + 1) % config.val_every == 0 or epoch + 1 == config.epochs
        if validated and world.main:
            if validate is not None:
                model.eval()
                with torch.no_grad():
                    record.update({k: float(v) for k, v in validate(model).items()})
                model.train()
                emit("validation", epoch + 1, loss=record["loss"], metrics=record)
            if config.monitor not in record:
                raise InputError(f"Cannot monitor {config.monitor!r}: the metrics are {', '.join(record)}.")
            value = record[config.monitor]
            better = state["best"] is None or (value < state["best"] if config.mode == "min" else value > state["best"])
            if better and math.isfinite(value):
                state.update(best=value, best_metrics=dict(record), bad=0)
                if best_path is not None:
                    save(best_path, with_train=False)
                    emit("checkpoint", epoch + 1, message=str(best_path))
            else:
                state["bad"] += 1
            stopped = config.patience is not None and state["bad"] >= config.patience
        state["history"].append(record)
        if latest is not None and world.main:
            save(latest, with_train=True)
        emit("epoch", epoch + 1, loss=record["loss"], metrics=record)
        if distributed.broadcast(stopped, world):
            stopped = True
            break

    emit("done", state["epoch"], metrics=state["best_metrics"], message="early stop" if stopped else "")
    return TrainResult(model, state["history"], state["best_metrics"], best_path, latest, stopped,
                       time.perf_counter() - start)
