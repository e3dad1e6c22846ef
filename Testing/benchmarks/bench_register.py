"""Registration benchmark: our engine against SimpleITK, elastix and ANTsPy on the cases with known answers.

    python Testing/benchmarks/bench_register.py [--cases A B C D2 D1 E] [--repeat 3]
        [--peers RESULTS.jsonl | --run-peers HARNESS_DIR]

Peers come from the peer harness (shared/peers/registration): `--run-peers` runs its three tool
scripts now, on this machine, beside ours (needs its environment: `bash setup_env.sh` there);
`--peers` reads lines it recorded (default: the newest results_*.jsonl beside ../shared). Our cases
are rebuilt from the same data with the same recipe and seeds (gdbackend.register.sample). Prints,
per case, each tool's error and median seconds, and our speed-up over the fastest peer that is at
least as accurate as we are (or over the most accurate peer, when we are more accurate than all).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from gdbackend.register import register
from gdbackend.register import sample as cases

PEER_CASE = {"A": "A_2d_translation", "B": "B_2d_rigid", "C": "C_2d_multimodal_mi", "D2": "D_3d_affine_2mm",
             "D1": "D_3d_affine_1mm", "E": "E_3d_deformable_2mm"}
# (peer field, unit, lower is better)
ERROR = {"A": ("t_err_px", "px", True), "B": ("angle_err_deg", "deg", True), "C": ("t_err_px", "px", True),
         "D2": ("tre_mean_mm", "mm", True), "D1": ("tre_mean_mm", "mm", True), "E": ("dice_after", "Dice", False)}


def ours(case: str) -> tuple[float, float]:
    """(error, seconds of the register() call) for one case."""
    if case in "ABC":
        fixed, moving = cases.pair_2d(case)
        t0 = time.perf_counter()
        r = register(fixed, moving, "rigid" if case == "B" else "translation", "mi" if case == "C" else "mse")
        dt = time.perf_counter() - t0
        err = cases.rigid_2d_errors(r.matrix)[0] if case == "B" else np.linalg.norm(r.matrix[:2, 2] - [13, 17])
        return float(err), dt
    if case.startswith("D"):
        fixed, moving, truth = cases.affine_case("1mm" if case == "D1" else "2mm")
        t0 = time.perf_counter()
        r = register(fixed, moving, "affine", "mse")
        dt = time.perf_counter() - t0
        return float(cases.tre(r.matrix, truth, cases.brain_points_1mm()).mean()), dt
    fixed, moving, fixed_labels, moving_labels, _ = cases.deformable_case()
    t0 = time.perf_counter()
    r = register(fixed, moving, ["affine", "bspline"], "mse")
    dt = time.perf_counter() - t0
    return cases.mean_dice(fixed_labels.array, r.resample(moving_labels, "nearest").array), dt


def recorded_peers(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def run_peers(harness: Path, wanted: list[str]) -> list[dict]:
    python = Path(os.environ.get("REGBENCH_DIR", "/tmp/regbench")) / "venv" / "bin" / "python"
    lines = []
    for script in ("bench_simpleitk.py", "bench_elastix.py", "bench_ants.py"):
        out = subprocess.run([str(python), script, *[PEER_CASE[c] for c in wanted], "--default-only"][
            : None if script == "bench_ants.py" else -1], cwd=harness, capture_output=True, text=True, check=True)
        lines += [json.loads(x) for x in out.stdout.splitlines() if x.startswith("{")]
    return lines


def default_peers() -> Path | None:
    found = sorted((Path(__file__).resolve().parents[2] / ".." / "shared" / "peers" / "registration")
                   .glob("results_*.jsonl"))
    return found[-1] if found else None


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", nargs="*", default=list(PEER_CASE))
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--peers", type=Path, default=None)
    p.add_argument("--run-peers", type=Path, default=None, help="peer harness folder")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    peers = run_peers(args.run_peers, args.cases) if args.run_peers else \
        recorded_peers(args.peers or default_peers()) if (args.peers or default_peers()) else []
    tools = [t for t in dict.fromkeys(x["tool"] for x in peers) if not t.startswith("torch-prototype")]
    print(f"torch {torch.__version__}, {args.threads} threads, median of {args.repeat}; peers: "
          f"{'run now' if args.run_peers else 'recorded by the peer harness'}")
    header = f"{'case':4} {'ours':>18} " + " ".join(f"{t:>22}" for t in tools) + "  speed-up"
    print(header)
    for case in args.cases:
        ours(case)                                          # warm-up: builds the case, loads the kernels
        runs = [ours(case) for _ in range(args.repeat)]
        err, sec = runs[0][0], statistics.median(r[1] for r in runs)
        field, unit, lower = ERROR[case]
        rows = {x["tool"]: x for x in peers if x["case"] == PEER_CASE[case] and x["tool"] in tools}
        cells = [f"{rows[t][field]:.4f} {unit} {rows[t]['seconds']:6.2f}s" if t in rows else "-" for t in tools]
        as_good = [r for r in rows.values() if (r[field] <= err if lower else r[field] >= err)]
        best = min(as_good, key=lambda r: r["seconds"]) if as_good else \
            (min if lower else max)(rows.values(), key=lambda r: r[field]) if rows else None
        ratio = f"{best['seconds'] / sec:5.2f}x vs {best['tool']}" + ("" if as_good else " (we are more accurate)") \
            if best else "-"
        print(f"{case:4} {err:.4f} {unit} {sec:6.2f}s " + " ".join(f"{c:>22}" for c in cells) + f"  {ratio}",
              flush=True)


if __name__ == "__main__":
    sys.exit(main())
