"""DistributedDataParallel set-up, so that the same training code runs under `torchrun`."""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0
    owned: bool = False   # this engine initialised the process group and must destroy it

    @property
    def main(self) -> bool:
        return self.rank == 0


def join(device: torch.device) -> tuple[World, torch.device]:
    """Join the process group `torchrun` describes in the environment (NCCL on GPUs, gloo on CPU)."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1 and not dist.is_initialized():
        return World(), device
    owned = False
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend)
        owned = True
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    return World(dist.get_rank(), dist.get_world_size(), local_rank, owned), device


def leave(world: World, finished: bool) -> None:
    """Tear down the group this engine made; after a failure no barrier, so a peer cannot hang on it."""
    if world.owned and dist.is_initialized():
        if finished:
            dist.barrier()  # a rank that tears down gloo while a peer still talks to it aborts the peer
        dist.destroy_process_group()


def broadcast(value, world: World):
    """Rank 0's `value` on every rank (decisions such as early stopping must agree)."""
    if world.size == 1:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]
