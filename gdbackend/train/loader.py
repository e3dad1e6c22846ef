"""The training data loader: samples keyed by (epoch, index), workers spawned, and workers' failures as the
project's errors.

A dataset whose augmentation or draw depends on the epoch (`set_epoch`) receives the epoch with every index,
so data-loader workers that persist across epochs, each with its own copy of the dataset, stay in step with
the main process (and a run gives the same batches with or without workers)."""
from __future__ import annotations

import os
import pickle
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler

from ..errors import InputError, ResourceError

# Longer than any one batch takes to augment, including the workers' start: a batch that a worker could not
# send (its shared memory unwritable, e.g. on a full disk) is otherwise waited for for ever.
TIMEOUT_S = 600.0


class EpochSampler(Sampler[tuple[int, int]]):
    """The indices of a DistributedSampler, each paired with the current epoch."""

    def __init__(self, sampler: DistributedSampler) -> None:
        self.sampler, self.epoch = sampler, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self.sampler.set_epoch(epoch)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return ((self.epoch, i) for i in self.sampler)

    def __len__(self) -> int:
        return len(self.sampler)


class EpochDataset(Dataset):
    """`dataset[i]` for a key (epoch, i), after `dataset.set_epoch(epoch)` whenever the epoch changes (some
    datasets redraw a whole epoch's index there: once per epoch and process, not per sample)."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset, self.epoch = dataset, None

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, int]) -> Any:
        epoch, i = key
        if epoch != self.epoch and hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)
        self.epoch = epoch
        return self.dataset[i]


def loader_workers(requested: int | None, device: torch.device) -> int:
    """Worker processes for the data loader: on a CPU they would take the cores torch computes on; a GPU
    waits for batches that a single process augments one sample at a time.

    Args:
        requested: the workers asked for (`TrainConfig.num_workers`); None: choose by the device.
        device: the training device.
    """
    if requested is not None:
        return requested
    return min(8, max((os.cpu_count() or 1) - 1, 0)) if device.type == "cuda" else 0


def epoch_loader(dataset: Dataset, sampler: EpochSampler, batch_size: int, workers: int,
                 collate: Callable | None, pin_memory: bool) -> DataLoader:
    """Workers persist across epochs and are spawned, not forked: a fork copies locks held by the caller's
    other threads (torch's, a job's readers), and a worker that needs one waits for ever."""
    return DataLoader(EpochDataset(dataset), batch_size=batch_size, sampler=sampler, num_workers=workers,
                      collate_fn=collate, pin_memory=pin_memory, persistent_workers=workers > 0,
                      multiprocessing_context="spawn" if workers else None, timeout=TIMEOUT_S if workers else 0)


def batches(loader: DataLoader) -> Iterator[Any]:
    """One epoch of the loader's batches; what fails in its workers is said plainly."""
    if not loader.num_workers:
        yield from loader
        return
    try:
        batch_iter = iter(loader)
    except (pickle.PicklingError, AttributeError, TypeError) as error:
        raise InputError(f"Data-loader workers need a dataset and collate function that can be pickled ({error}): "
                         "define them at module level, or train without workers (--workers 0).") from None
    while True:
        try:
            batch = next(batch_iter)
        except StopIteration:
            return
        except RuntimeError as error:
            if "timed out" not in str(error) and "exited unexpectedly" not in str(error):
                raise
            raise ResourceError(f"A data-loader worker sent no batch ({error}): its shared memory may be full "
                                "(free disk space and /dev/shm) or it ran out of memory. Train with fewer "
                                "workers (--workers 0 uses none).") from None
        yield batch
