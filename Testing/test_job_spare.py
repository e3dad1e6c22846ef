"""Spare job processes (gdbackend.job.Spare): a process that has done a job kind's imports waits for its spec,
runs it exactly as a new process would, and goes away cleanly when it is not needed, has died or lost its
owner."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import SimpleITK as sitk
from test_job import leftovers, write_spec

from gdbackend.job import Job, Spare


def offset(folder: Path) -> tuple:
    return sitk.ReadTransform(str(folder / "transform.tfm")).TransformPoint((0.0, 0.0))


def test_a_spare_runs_the_job_it_is_handed_as_a_new_process_would(tmp_path):
    spare = Spare("register")
    assert spare.wait_ready(120), "the spare did not finish its imports"
    pid = spare.pid
    for name in ("spare", "new"):
        (tmp_path / name).mkdir()
    options = {"iterations": 60, "tolerance": 0, "seed": 3}
    job = Job(write_spec(tmp_path / "spare", options), spare=spare)
    assert job.process.pid == pid and not spare.alive() and spare.pid is None  # used once: it is the job now
    assert job.wait(120) == "done", job.error
    fresh = Job(write_spec(tmp_path / "new", options))
    assert fresh.wait(120) == "done", fresh.error
    assert fresh.process.pid != pid
    assert offset(tmp_path / "spare") == offset(tmp_path / "new")
    same = {k: v for k, v in job.result["summary"].items() if k != "seconds"}
    assert same == {k: v for k, v in fresh.result["summary"].items() if k != "seconds"}
    assert leftovers(tmp_path / "spare") == ["moved.nii.gz", "transform.tfm"]


def test_a_spare_let_go_ends_at_once_and_takes_no_job(tmp_path):
    spare = Spare("register")
    pid = spare.pid
    spare.close(grace=60)
    assert not spare.alive() and not running(pid)
    assert spare.take(tmp_path / "spec.json") is None


def test_a_spare_ends_when_its_owner_does(tmp_path):
    """Slicer quitting (or crashing) closes the spare's input: the spare must not linger without an owner."""
    owner = subprocess.run([sys.executable, "-c", "from gdbackend.job import Spare\nprint(Spare('register').pid)"],
                           capture_output=True, text=True, timeout=60, cwd=tmp_path)
    pid = int(owner.stdout)
    deadline = time.monotonic() + 60
    while running(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not running(pid)


def running(pid: int) -> bool:
    """Whether process `pid` exists and is not a zombie waiting for its parent."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


def test_a_dead_spare_is_passed_over_for_a_new_process(tmp_path):
    spare = Spare("register")
    os.kill(spare.pid, signal.SIGKILL)
    while spare.alive():
        time.sleep(0.01)
    job = Job(write_spec(tmp_path, {"iterations": 20}), spare=spare)
    assert job.wait(120) == "done", job.error
    assert leftovers(tmp_path) == ["moved.nii.gz", "transform.tfm"]


def test_a_job_in_a_spare_can_be_cancelled_and_leaves_nothing(tmp_path):
    spare = Spare("register")
    assert spare.wait_ready(120)
    job = Job(write_spec(tmp_path, {"iterations": 10 ** 6, "tolerance": 0}), spare=spare)
    while job.running and job.last_progress is None:
        job.poll()
        time.sleep(0.01)
    job.cancel()
    assert job.state == "cancelled" and leftovers(tmp_path) == []


def test_a_spare_loads_everything_its_job_kind_imports(tmp_path):
    """After `KINDS[kind].load()` (what a spare does before it waits), running the job imports nothing more
    of gdbackend, torch, SimpleITK or MONAI: those seconds are spent before the user presses Apply."""
    spec = json.loads(write_spec(tmp_path, {"iterations": 20}).read_text())
    code = ("import json, sys\nfrom pathlib import Path\nfrom gdbackend.jobs import KINDS\n"
            "KINDS['register'].load()\nbefore = set(sys.modules)\nfrom gdbackend.job import run_spec\n"
            f"run_spec({spec!r}, base=Path({str(tmp_path)!r}))\n"
            "print(json.dumps(sorted(m for m in set(sys.modules) - before\n"
            "                        if m.split('.')[0] in ('gdbackend', 'torch', 'SimpleITK', 'monai'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == ["gdbackend.job"]
