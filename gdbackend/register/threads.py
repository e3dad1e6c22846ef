"""Torch threads sized to the work of one level. Small tensor operations gain nothing from more threads, and
on a machine where another program keeps a core busy, every operation that waits for its slowest thread
stalls (measured: a 2D registration beside a network training took 8.5-13.5 s on torch's 2 threads and
0.33 s on one). Levels whose iterations touch few points therefore run on one thread."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

POINTS_PER_THREAD = 250_000   # points (samples or grid voxels) an iteration must touch to pay a thread


def threads_for(points: int, available: int) -> int:
    """Threads for iterations touching `points` points, at most `available`."""
    return max(1, min(available, points // POINTS_PER_THREAD))


@contextmanager
def sized_threads(points: int, device: torch.device) -> Iterator[None]:
    """Run the block on as many CPU threads as `points` pays for (none changed on a GPU), then restore."""
    before = torch.get_num_threads()
    wanted = threads_for(points, before) if device.type == "cpu" else before
    if wanted != before:
        torch.set_num_threads(wanted)
    try:
        yield
    finally:
        if wanted != before:
            torch.set_num_threads(before)
