"""kill -9 of a training process at random moments, then --resume: training continues from the last
checkpoint and ends with the same weights as an uninterrupted run, and no checkpoint file is ever
half-written (a watcher loads every MODEL*.pt it sees while the processes run).

Run as a script, this file is the training process: the tiny brain-slice problem of train_fixtures,
slowed by a few milliseconds per step so that a kill lands in the middle of training:
    python Testing/test_faults_resume.py OUT.pt [--resume]
"""
from __future__ import annotations

import io
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import torch

EPOCHS = 40
STEP_SLEEP_S = 0.01
REPO = Path(__file__).resolve().parents[1]


def train(out: Path, resume: bool) -> None:
    from train_fixtures import CARD, BrainSlices, bce, tiny_net

    from gdbackend.train import TrainConfig, fit, last_path

    def slow_bce(net, batch):
        time.sleep(STEP_SLEEP_S)
        return bce(net, batch)

    def report(event) -> None:
        print(json.dumps({"kind": event.kind, "epoch": event.epoch}), flush=True)

    config = TrainConfig(epochs=EPOCHS, optimizer="adam", lr=0.05, batch_size=2, device="cpu", seed=3)
    fit(tiny_net(), slow_bce, BrainSlices(8), config, card=CARD, out=out,
        resume=last_path(out) if resume else None, on_event=report)


class CheckpointWatcher(threading.Thread):
    """Loads every visible MODEL*.pt in `folder` over and over; any file that does not load is recorded."""

    def __init__(self, folder: Path) -> None:
        super().__init__(daemon=True)
        self.folder, self.stop, self.loads, self.broken = folder, threading.Event(), 0, []

    def run(self) -> None:
        while not self.stop.is_set():
            for path in self.folder.glob("*.pt"):
                if path.name.startswith("."):
                    continue  # a temporary file being written, never read as a checkpoint
                data = path.read_bytes()
                try:
                    payload = torch.load(io.BytesIO(data), weights_only=True)
                    assert "model" in payload and "card" in payload
                    self.loads += 1
                except Exception as e:  # noqa: BLE001 - any failure is a half-written checkpoint
                    self.broken.append(f"{path.name} ({len(data)} bytes): {type(e).__name__}: {e}")
            time.sleep(0.002)


def start(out: Path, resume: bool) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, __file__, str(out), *(["--resume"] if resume else [])],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def first_step(process: subprocess.Popen) -> dict:
    for line in process.stdout:
        event = json.loads(line)
        if event["kind"] == "step":
            return event
    raise AssertionError(f"no training step before exit: {process.stderr.read()[-2000:]}")


def weights(path: Path) -> dict:
    return torch.load(path, weights_only=True)


def test_kill_minus_9_then_resume_gives_the_uninterrupted_result(tmp_path):
    from gdbackend.train import last_path
    reference = tmp_path / "reference" / "tiny.pt"
    reference.parent.mkdir()
    run = start(reference, resume=False)
    assert run.wait(timeout=120) == 0, run.stderr.read()[-2000:]

    out = tmp_path / "killed" / "tiny.pt"
    out.parent.mkdir()
    watcher = CheckpointWatcher(out.parent)
    watcher.start()
    rng = random.Random()
    seed = rng.randrange(10**6)
    rng.seed(seed)
    saved = 0  # epochs in the last checkpoint
    try:
        for attempt in range(3):  # two kills at random moments, then a run to the end
            process = start(out, resume=attempt > 0)
            first = first_step(process)
            assert first["epoch"] == saved + 1, \
                f"seed {seed}: run {attempt} started at epoch {first['epoch']}, the last checkpoint held {saved}"
            if attempt < 2:
                time.sleep(rng.uniform(0.1, 0.45))
                process.send_signal(signal.SIGKILL)
                assert process.wait(timeout=30) == -signal.SIGKILL, f"seed {seed}: run ended before the kill"
                saved = weights(last_path(out))["card"]["epochs_trained"]
                assert 0 < saved < EPOCHS
            else:
                process.stdout.read()
                assert process.wait(timeout=120) == 0, process.stderr.read()[-2000:]
    finally:
        watcher.stop.set()
        watcher.join()
    assert watcher.broken == [], f"seed {seed}: half-written checkpoints seen"
    assert watcher.loads > 10
    for name in (out.name, last_path(out).name):
        got, want = weights(out.parent / name), weights(reference.parent / name)
        assert got["card"]["history"] == want["card"]["history"], f"seed {seed}: {name} history differs"
        for key, tensor in want["model"].items():
            assert torch.equal(got["model"][key], tensor), f"seed {seed}: {name} {key} differs after resume"


if __name__ == "__main__":
    torch.set_num_threads(1)
    train(Path(sys.argv[1]), "--resume" in sys.argv[2:])
