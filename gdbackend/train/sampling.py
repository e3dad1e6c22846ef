"""Samples keyed by (epoch, index): a dataset whose augmentation or draw depends on the epoch (`set_epoch`)
receives the epoch with every index, so data-loader workers that persist across epochs, each with its own
copy of the dataset, stay in step with the main process (and a run gives the same batches with or without
workers)."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from torch.utils.data import Dataset, DistributedSampler, Sampler


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
