"""Batches as the data loader yields them: moved to the training device, laid out, and counted."""
from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import Dataset


def to_device(batch: Any, device: torch.device, memory_format: torch.memory_format | None = None) -> Any:
    """Move every tensor of a (nested) batch; float images get the channels-last layout when asked.

    Args:
        batch: a tensor, or dicts, lists and tuples of them (other values pass unchanged).
        device: the training device.
        memory_format: the layout of 4D and 5D float tensors (N, C, [D,] H, W); None: as they are.
    """
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


def batch_len(batch: Any) -> int:
    """Samples in a batch: a stacked tensor, a dict of them, (inputs, targets) of stacked tensors or of
    per-sample lists (detection), or a list of per-sample dicts."""
    if isinstance(batch, torch.Tensor):
        return len(batch)
    if isinstance(batch, dict):
        return batch_len(next(iter(batch.values())))
    if isinstance(batch, (list, tuple)) and batch:
        first = batch[0]
        if isinstance(first, torch.Tensor):
            return len(first)
        return len(first) if isinstance(first, (list, tuple)) else len(batch)
    raise TypeError(f"Cannot tell the batch size of a {type(batch).__name__}.")


def memory_format(dataset: Dataset, device: torch.device, channels_last: bool) -> torch.memory_format | None:
    """The channels-last layout that fits the dataset's images (2D or 3D) when asked, on CUDA; else None.

    Args:
        dataset: the training samples; the first float tensor of `dataset[0]`, C x [D x] H x W, is the image
            (read only when the layout is asked for, as reading may draw random numbers).
        device: the training device.
        channels_last: whether the training settings ask for the layout.
    """
    if not channels_last or device.type != "cuda":
        return None
    return torch.channels_last_3d if _image_ndim(dataset[0]) == 5 else torch.channels_last


def _image_ndim(sample: Any) -> int:
    """Spatial rank + 2 of the first float tensor in a sample (0: none)."""
    if isinstance(sample, torch.Tensor) and sample.is_floating_point():
        return sample.ndim + 1
    items = sample.values() if isinstance(sample, dict) else sample if isinstance(sample, (list, tuple)) else ()
    return next((n for n in (_image_ndim(v) for v in items) if n), 0)
