"""What a panel user waits from Apply to the result: a job in a new process against the same job handed to a
spare process that has done its imports (gdbackend.job.Spare, what a shown GD panel keeps ready). Not collected
by pytest; run under the CPU lock:

    .venv/bin/python Testing/benchmarks/bench_spare.py [--repeat 3]

register   ITK's PD slice shifted by (13, 17) px (case A), translation, mean squares
segment    brain extraction (the bundled model) of Colin27's 1 mm head, on the CPU
Runs alternate between the two sides and report medians, so a busy machine slows both alike.
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from gdbackend.job import Job, Spare
from gdbackend.register import sample as cases
from gdbackend.sample_data import mricron

MODEL = Path(__file__).resolve().parents[2] / "Resources" / "Models" / "brain-extraction-t1.pt"


def specs(folder: Path) -> dict[str, Path]:
    """A job spec per benchmark, written in `folder` with its inputs."""
    fixed, moving = cases.pair_2d("A")
    jobs = {"register": {"kind": "register",
                         "inputs": {"fixed": str(fixed.write(folder / "fixed.nii.gz")),
                                    "moving": str(moving.write(folder / "moving.nii.gz"))},
                         "options": {"transform": "translation", "metric": "mse"},
                         "outputs": {"transform": str(folder / "transform.tfm")}},
            "segment": {"kind": "segment.predict",
                        "inputs": {"image": str(mricron("ch2.nii.gz")), "model": str(MODEL)},
                        "options": {"device": "cpu"}, "outputs": {"labels": str(folder / "labels.nii.gz")}}}
    paths = {}
    for name, spec in jobs.items():
        paths[name] = folder / f"{name}.json"
        paths[name].write_text(json.dumps(spec))
    return paths


def apply_to_result(spec: Path, spare: bool) -> float:
    """Seconds from starting the job (in a ready spare, or a new process) to its "done" event."""
    ready = Spare(json.loads(spec.read_text())["kind"]) if spare else None
    if ready is not None and not ready.wait_ready(300):
        raise RuntimeError("the spare process did not get ready")
    t0 = time.perf_counter()
    job = Job(spec, spare=ready)
    if job.wait(600) != "done":
        raise RuntimeError(f"{spec.stem} failed: {job.error}")
    return time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    print("from Apply to the result (s, median): new process | ready spare | ratio")
    with tempfile.TemporaryDirectory() as tmp:
        for name, spec in specs(Path(tmp)).items():
            runs = {False: [], True: []}
            for _ in range(args.repeat):
                for spare in (False, True):
                    runs[spare].append(apply_to_result(spec, spare))
            new, warm = statistics.median(runs[False]), statistics.median(runs[True])
            print(f"{name:9} {new:6.2f} | {warm:6.2f} | {new / warm:4.1f}x", flush=True)


if __name__ == "__main__":
    main()
