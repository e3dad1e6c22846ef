"""Torch threads sized to the work of one level. An operation gains nothing from a thread whose share of its
points is small, and on a machine where another program keeps a core busy, every operation that waits for its
slowest thread can stall (measured once: a 2D registration beside a network training took 8.5-13.5 s on torch's 2
threads and 0.33 s on one). A level therefore runs on one thread per POINTS_PER_THREAD points its iterations
touch; images are read with a grid_sample batch per thread (sampling.read_at), which is where threads pay.
Measured on 2 cores with the bench's two busy neighbours at nice 19: a 1 mm affine 1.62 s on one thread at 8192
samples and 1.29 s on two, quiet, 1.28-1.30 s on two beside either neighbour; a 2D rigid case 0.41-0.45 s either
way, quiet or busy."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

POINTS_PER_THREAD = 4096   # points (samples or grid voxels) a thread's share of an iteration must reach


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
