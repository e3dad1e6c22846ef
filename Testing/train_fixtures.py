"""A tiny real-data learning problem for the training-engine tests: brain vs background on
axial slices of the Colin27 T1 head (mricron-data), downsampled so each step takes milliseconds.

Run as a script under torchrun to train with DistributedDataParallel and save the final weights:
    python -m torch.distributed.run --standalone --nproc_per_node 2 Testing/train_fixtures.py OUT.pt
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gdbackend.sample_data import mricron  # noqa: E402
from gdbackend.volume import Volume  # noqa: E402

SIZE = 24


class BrainSlices(Dataset):
    """`n` axial slices of the head (image) and brain mask (label), resized to SIZE x SIZE."""

    def __init__(self, n: int = 8) -> None:
        head = Volume.read(mricron("ch2.nii.gz")).array.astype(np.float32)
        brain = Volume.read(mricron("ch2bet.nii.gz")).array > 0
        ks = np.linspace(50, 130, n).round().astype(int)
        image = torch.from_numpy(head[ks] / head.max())[:, None]
        label = torch.from_numpy(brain[ks].astype(np.float32))[:, None]
        self.image = F.interpolate(image, size=(SIZE, SIZE), mode="area")
        self.label = (F.interpolate(label, size=(SIZE, SIZE), mode="area") > 0.5).float()

    def __len__(self) -> int:
        return len(self.image)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"image": self.image[i], "label": self.label[i]}


def tiny_net(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.Tanh(),
                               torch.nn.Conv2d(4, 1, 3, padding=1))


def bce(net: torch.nn.Module, batch: dict) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(net(batch["image"]), batch["label"])


def dice(model: torch.nn.Module, data: BrainSlices) -> float:
    pred = model(data.image) > 0
    truth = data.label > 0
    return float(2 * (pred & truth).sum() / (pred.sum() + truth.sum()))


CARD = {"task": "engine-test", "architecture": "tiny", "arguments": {}}


def ddp_config():
    from gdbackend.train import TrainConfig
    return TrainConfig(epochs=3, optimizer="minibatch", lr=0.5, batch_size=4, device="cpu", seed=3)


if __name__ == "__main__":
    from gdbackend.cli import exit_launched
    from gdbackend.train import fit
    torch.set_num_threads(1)
    result = fit(tiny_net(), bce, BrainSlices(8), ddp_config(), card=CARD)
    if os.environ.get("RANK", "0") == "0":  # every rank holds the same weights; one writes them
        torch.save(result.model.state_dict(), sys.argv[1])
    exit_launched(0)   # as `gd` does under torchrun
