"""Benchmarks of the training engine and segmentation (not collected by pytest; run under the CPU lock):

    .venv/bin/python Testing/benchmarks/bench_train.py [throughput] [sliding] [brain] [amp]
        [--epochs 300] [--samples-per-case 8] [--threads 2]

throughput  samples/s of `gdbackend.train.fit` vs a plain MONAI loop as textbooks write it (same UNet,
            DiceCELoss, Adam, batch of 2 real 96^3 patches of Colin27); target ratio >= 0.95
sliding     our sliding-window inference of the 1 mm Colin27 head vs `monai.inferers.sliding_window_inference`
            called directly (same network, roi, overlap, Gaussian blending), time and peak memory, each in a
            fresh process; target <= 1.05x
brain       the full brain extraction through `gd segment train/evaluate`: Colin27 -> ITK T1, Dice/IoU/HD95
            (on the GPU when there is one)
amp         on a CUDA GPU only: mixed-precision vs fp32 training throughput of the engine
Runs alternate between the two sides and report medians, so a busy machine slows both alike.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from gdbackend.segment import build_network, network_arguments, sample  # noqa: E402
from gdbackend.segment.preprocess import image_to_model  # noqa: E402
from gdbackend.segment.transforms import PatchDataset, class_map  # noqa: E402

PATCH, OVERLAP, SW_BATCH, REPEATS = (96, 96, 96), 0.25, 2, 5


def unet() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_network("unet", network_arguments("unet", 3, 1, 2))


def colin_1mm() -> tuple[np.ndarray, np.ndarray]:
    case = sample.colin27()
    image, grid = image_to_model(case.image, (1.0, 1.0, 1.0), "percentile")
    return image.array[None], class_map(case.label.resample_to(grid, "nearest").array, [1])


class Fixed(torch.utils.data.Dataset):
    """Pre-cut patches, so both loops time training, not augmentation."""

    def __init__(self, n: int) -> None:
        patches = PatchDataset([colin_1mm()], PATCH, 2, samples_per_case=n, augment=False, seed=0)
        self.items = [patches[i] for i in range(n)]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        return self.items[i]


def textbook(data: Fixed, epochs: int) -> float:
    """The MONAI tutorial loop; seconds."""
    from monai.losses import DiceCELoss
    start = time.perf_counter()
    model, loss_function = unet(), DiceCELoss(to_onehot_y=True, softmax=True)
    optimizer = torch.optim.Adam(model.parameters(), 1e-3)
    loader = torch.utils.data.DataLoader(data, batch_size=2, shuffle=True)
    model.train()
    for _ in range(epochs):
        epoch_loss = 0.0
        for batch in loader:
            optimizer.zero_grad()
            loss = loss_function(model(batch["image"]), batch["label"])
            loss.backward()
            optimizer.step()
            epoch_loss += loss.item()
    return time.perf_counter() - start


def engine(data: Fixed, epochs: int, device: str = "cpu", amp: bool = True) -> float:
    from gdbackend.segment import build_loss
    from gdbackend.train import TrainConfig, fit
    start = time.perf_counter()
    criterion = build_loss("dicece")
    fit(unet(), lambda net, b: criterion(net(b["image"]), b["label"]), data,
        TrainConfig(epochs=epochs, optimizer="adam", lr=1e-3, batch_size=2, device=device, amp=amp),
        card={"task": "bench"})
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def amp(epochs: int = 3, n: int = 32) -> dict:
    """On a GPU: mixed precision vs fp32 training, samples/s of the engine (same data, same network)."""
    if not torch.cuda.is_available():
        return {"skipped": "no CUDA GPU"}
    data = Fixed(n)
    engine(data, 1, "cuda", True), engine(data, 1, "cuda", False)   # warm-up: cuDNN autotuning, allocator
    runs = {True: [], False: []}
    for _ in range(REPEATS):
        for flag in runs:
            runs[flag].append(n * epochs / engine(data, epochs, "cuda", flag))
    fp16, fp32 = statistics.median(runs[True]), statistics.median(runs[False])
    return {"gpu": torch.cuda.get_device_name(), "amp_samples_s": round(fp16, 2), "fp32_samples_s": round(fp32, 2),
            "speedup": round(fp16 / fp32, 3), "peak_gpu_mb": round(torch.cuda.max_memory_allocated() / 2**20)}


def throughput(epochs: int = 2, n: int = 8) -> dict:
    data = Fixed(n)
    engine(data, 1)   # warm-up: first-call allocations and oneDNN kernel choice
    ours, plain = [], []
    for _ in range(REPEATS):
        ours.append(n * epochs / engine(data, epochs))
        plain.append(n * epochs / textbook(data, epochs))
    o, p = statistics.median(ours), statistics.median(plain)
    return {"engine_samples_s": round(o, 3), "textbook_samples_s": round(p, 3), "ratio": round(o / p, 3)}


def _rss_mb() -> float:
    return int(open("/proc/self/statm").read().split()[1]) * resource.getpagesize() / 2**20


def sliding_worker(side: str) -> dict:
    """One inference in this (fresh) process: seconds and peak memory above the resident set before it."""
    from monai.inferers import sliding_window_inference

    from gdbackend.segment.inference import model_probabilities
    image = colin_1mm()[0]
    model = unet().eval()
    card = {"patch": list(PATCH)}
    before = _rss_mb()
    start = time.perf_counter()
    if side == "ours":
        prob = model_probabilities(model, card, image, torch.device("cpu"), overlap=OVERLAP)
    else:
        with torch.no_grad():
            x = torch.as_tensor(image[None])
            prob = torch.softmax(sliding_window_inference(x, PATCH, SW_BATCH, model, OVERLAP, mode="gaussian"),
                                 1)[0].numpy()
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - before
    return {"seconds": seconds, "peak_mb": peak, "shape": list(prob.shape)}


def sliding() -> dict:
    runs = {"ours": [], "direct": []}
    # big buffers straight from mmap and back at free: the peak is what is live, not allocator leftovers
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "1048576"}
    for _ in range(REPEATS):
        for side in runs:
            out = subprocess.run([sys.executable, __file__, "_sliding", side], capture_output=True, text=True,
                                 check=True, env=env)
            runs[side].append(json.loads(out.stdout.strip().splitlines()[-1]))
    med = {side: {k: statistics.median(r[k] for r in rs) for k in ("seconds", "peak_mb")} for side, rs in runs.items()}
    figures = {f"{side}_{k}": round(v, 3) for side, m in med.items() for k, v in m.items()}
    return {"shape": runs["ours"][0]["shape"], **figures,
            "time_ratio": round(med["ours"]["seconds"] / med["direct"]["seconds"], 3),
            "memory_ratio": round(med["ours"]["peak_mb"] / med["direct"]["peak_mb"], 3)}


def brain(epochs: int, samples_per_case: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        run = sample.brain_extraction(Path(tmp), epochs, samples_per_case)
    return {"commands": run["commands"], "train_seconds": run["train"]["seconds"],
            "final_loss": round(run["train"]["final_loss"], 4), **{k: round(v, 4) for k, v in run["test"].items()}}


def main() -> None:
    if sys.argv[1:2] == ["_sliding"]:
        torch.set_num_threads(2)
        print(json.dumps(sliding_worker(sys.argv[2])))
        return
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("parts", nargs="*", default=["throughput", "sliding", "brain"])
    p.add_argument("--epochs", type=int, default=300, help="brain extraction epochs")
    p.add_argument("--samples-per-case", type=int, default=8, help="brain extraction patches per epoch")
    p.add_argument("--threads", type=int, default=2, help="CPU threads (the CI machine has 2 cores)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    for part in args.parts:
        start = time.perf_counter()
        result = {"throughput": throughput, "sliding": sliding, "amp": amp,
                  "brain": lambda: brain(args.epochs, args.samples_per_case)}[part]()
        print(json.dumps({"part": part, **result, "wall_s": round(time.perf_counter() - start, 1)}), flush=True)


if __name__ == "__main__":
    main()
