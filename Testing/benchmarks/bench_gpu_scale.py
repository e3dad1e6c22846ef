"""Issue 4's benchmarks at the scale a GPU trains in minutes: does more data and more training move lesion
detection and lesion classification towards their targets, as the CPU runs' trend says?

    python Testing/benchmarks/bench_gpu_scale.py [unet3d] [classify]

The tasks of `bench_classify_detect.py` (same held-out brains, same metrics), with 2x the training brains of
its largest CPU runs, bigger batches and several times the steps; the lesion brains are made in parallel and
batches prepared by data-loader workers. Needs a CUDA GPU (hours on a CPU). Prints one JSON line per task.

On an H100 machine (16 cores) `unet3d` takes about 12 minutes: about 165 s to make and prepare the 384 brains,
then 19 s per epoch, bound by the CPU's augmentation (about 650 patches/s), not by the GPU.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import bench_classify_detect as bench
import torch

UNET3D = {"train_brains": 384, "epochs": 24, "patches_per_volume": 32, "batch_size": 32, "lr": 1e-3}
CLASSIFY = {"train_brains": 512, "epochs": 30}

if __name__ == "__main__":
    if not torch.cuda.is_available():
        sys.exit("bench_gpu_scale.py needs a CUDA GPU; bench_classify_detect.py runs the CPU-sized tasks.")
    bench.PROCESSES = bench.WORKERS = max((os.cpu_count() or 2) - 1, 1)
    bench.UNET3D.update(UNET3D)
    bench.CLASSIFY.update(CLASSIFY)
    tasks = sys.argv[1:] or ["unet3d", "classify"]
    with tempfile.TemporaryDirectory() as tmp:
        for task in tasks:
            result = {"unet3d": bench.unet3d, "classify": bench.classify}[task](Path(tmp))
            print(json.dumps({**result, "device": torch.cuda.get_device_name(),
                              "processes": bench.PROCESSES}), flush=True)
