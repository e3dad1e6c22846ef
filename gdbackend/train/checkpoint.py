"""Self-describing checkpoints: weights + a model card + the state needed to resume exactly.

A checkpoint is plain data (tensors, numbers, strings, lists, dicts), written atomically and read
with `torch.load(weights_only=True)`, so a model file can never run code.
"""
from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ..errors import InputError, ModelError
from ..volume import write_atomic

FORMAT = 1
_PLAIN = (str, int, float, bool, type(None))


def plain(value, where: str = "card"):
    """`value` as types `torch.load(weights_only=True)` accepts (NumPy scalars and arrays become lists)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if type(value) in _PLAIN or isinstance(value, torch.Tensor):
        return value
    if isinstance(value, dict):
        return {str(k): plain(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v, where) for v in value]
    raise TypeError(f"{where} holds a {type(value).__name__}, which a weights-only checkpoint cannot store.")


def rng_states() -> dict:
    np_state = np.random.get_state()
    state = {"python": random.getstate(), "torch": torch.get_rng_state(),
             "numpy": [np_state[0], np_state[1].tolist(), *np_state[2:]]}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_states(state: dict) -> None:
    version, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((version, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save(path: str | Path, model_state: dict, card: dict, train_state: dict | None = None) -> Path:
    """Write {format, card, model, train} atomically; `card["task"]` names the task that can use it."""
    if not card.get("task"):
        raise ValueError("A model card needs a 'task' so that other tasks can refuse the model.")
    # the training state is saved as PyTorch gives it: optimiser states are keyed by int and must stay so
    payload = {"format": FORMAT, "card": plain(card), "model": model_state, "train": train_state}
    return write_atomic(Path(path), lambda tmp: torch.save(payload, tmp))


def load(path: str | Path, task: str | None = None, map_location: str | torch.device = "cpu") -> dict:
    """Read a checkpoint; a model of another task, or no model at all, gives a ModelError."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"Model file not found: {path}. Check the path, or train a model first.")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # torch raises pickle, zip and runtime errors alike for foreign files
        raise ModelError(f"{path} is not a GDImaging model file ({type(e).__name__}): "
                         "give a .pt file written by GDImaging training.") from None
    if not isinstance(payload, dict) or "card" not in payload or "model" not in payload:
        raise ModelError(f"{path} is a PyTorch file but not a GDImaging model (no model card): "
                         "give a .pt file written by GDImaging training.")
    found = payload["card"].get("task")
    if task is not None and found != task:
        raise ModelError(f"{path} is a {found!r} model, not a {task!r} model: "
                         f"use it with the {found} tools, or give a {task} model.")
    return payload


def load_weights(model: torch.nn.Module, state: dict, path: str | Path = "the checkpoint") -> None:
    """Load weights, turning a shape or key mismatch into a clear ModelError."""
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
        detail = lines[1] if len(lines) > 1 else lines[0] if lines else ""
        raise ModelError(f"The weights in {path} do not fit the network described by its card ({detail[:200]}): "
                         "the file was edited or written by another version; retrain the model.") from None


def load_network(path: str | Path, task: str, build: Callable[[str, dict], torch.nn.Module],
                 device: str | torch.device = "cpu") -> tuple[torch.nn.Module, dict]:
    """(network in eval mode on `device`, model card) of a `task` checkpoint, the network made by
    build(name, arguments) from the card; a model of another task gives a ModelError."""
    from ..device import choose_device
    device = choose_device(device)
    payload = load(path, task=task, map_location=device)
    card = payload["card"]
    name = card.get("network", card.get("architecture"))
    model = build(name, card["arguments"])
    load_weights(model, payload["model"], path)
    return model.to(device).eval(), card
