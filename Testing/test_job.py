"""The job runner with real subprocesses on real images: progress, results, cancel, crash, bad specs."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from gdbackend.errors import InputError
from gdbackend.job import STAGING_PREFIX, Job, run_spec
from gdbackend.sample_data import itk_example

FIXED = "BrainProtonDensitySliceBorder20.png"
MOVING = "BrainProtonDensitySliceShifted13x17y.png"


def write_spec(folder: Path, options: dict, outputs=("transform.tfm", "moved.nii.gz")) -> Path:
    spec = {"kind": "register",
            "inputs": {"fixed": str(itk_example(FIXED)), "moving": str(itk_example(MOVING))},
            "options": {"transform": "translation", "levels": 1, "device": "cpu", **options},
            "outputs": {"transform": outputs[0], "image": outputs[1]}}
    path = folder / "spec.json"
    path.write_text(json.dumps(spec))
    return path


def leftovers(folder: Path) -> list[str]:
    """Files a job may have left: outputs or staging folders (the spec is ours)."""
    return sorted(p.name for p in folder.iterdir() if p.name != "spec.json")


def test_job_streams_progress_and_returns_files(tmp_path):
    job = Job(write_spec(tmp_path, {"iterations": 150, "tolerance": 0}))
    events = []
    deadline = time.monotonic() + 60
    while job.running and time.monotonic() < deadline:
        events += job.poll()
        time.sleep(0.02)
    assert job.state == "done", job.error
    kinds = [e["event"] for e in events]
    assert kinds[0] == "started" and kinds[-1] == "done"
    progress = [e for e in events if e["event"] == "progress"]
    assert len(progress) >= 2
    fractions = [e["fraction"] for e in progress]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    assert all(np.isfinite(e["loss"]) and e["eta_s"] is not None for e in progress)
    assert progress[-1]["loss"] < progress[0]["loss"]
    assert leftovers(tmp_path) == ["moved.nii.gz", "transform.tfm"]
    # ITK's convention: the transform maps fixed points onto the moving image, here (+13, +17) px shifted
    offset = np.array(sitk.ReadTransform(str(tmp_path / "transform.tfm")).TransformPoint((0.0, 0.0)))
    assert np.abs(np.abs(offset) - [13, 17]).max() < 0.1
    assert job.result["summary"]["transform"] == "translation"


def test_cancel_stops_within_a_second_and_leaves_no_files(tmp_path):
    job = Job(write_spec(tmp_path, {"iterations": 10 ** 6, "tolerance": 0}))
    deadline = time.monotonic() + 60
    while job.last_progress is None and job.running and time.monotonic() < deadline:
        job.poll()
        time.sleep(0.02)
    assert job.last_progress is not None, job.error
    assert list(tmp_path.glob(f"{STAGING_PREFIX}*")), "the running job stages its outputs"
    start = time.monotonic()
    job.cancel()
    assert time.monotonic() - start < 1.0
    assert job.state == "cancelled" and job.process.returncode is not None
    assert leftovers(tmp_path) == []


def test_a_crashed_job_surfaces_a_clear_error(tmp_path):
    job = Job(write_spec(tmp_path, {"iterations": 10 ** 6, "tolerance": 0}))
    while job.last_progress is None and job.running:
        job.poll()
        time.sleep(0.02)
    os.kill(job.process.pid, signal.SIGSEGV)
    assert job.wait(10) == "failed"
    assert "ended unexpectedly" in job.error and "SIGSEGV" in job.error
    assert leftovers(tmp_path) == []


def test_a_failing_job_reports_the_backend_message(tmp_path):
    spec = write_spec(tmp_path, {"iterations": 10})
    data = json.loads(spec.read_text())
    data["inputs"]["moving"] = str(spec)  # a JSON file is no image
    spec.write_text(json.dumps(data))
    job = Job(spec)
    assert job.wait(30) == "failed"
    assert "Cannot read" in job.error and "spec.json" in job.error
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("change, message", [
    ({"kind": "teleport"}, "Unknown job kind 'teleport'"),
    ({"inputs": {"fixed": "f.png"}}, "missing ['moving']"),
    ({"outputs": {"transform": "no/such/folder/t.tfm"}}, "does not exist"),
    ({"options": {"transform": "translation", "speed": 11}}, "Unknown register option(s) ['speed']"),
])
def test_an_invalid_spec_is_refused_with_a_message(tmp_path, change, message):
    spec = json.loads(write_spec(tmp_path, {}).read_text()) | change
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        run_spec(spec, base=tmp_path)
    assert leftovers(tmp_path) == []


def test_the_command_line_refuses_a_broken_spec_file(tmp_path):
    bad = tmp_path / "spec.json"
    bad.write_text("{not json")
    out = subprocess.run([sys.executable, "-m", "gdbackend.job", str(bad)], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parent.parent, timeout=60)
    assert out.returncode == 2
    event = json.loads(out.stdout.strip().splitlines()[-1])
    assert event["event"] == "error" and "not valid JSON" in event["message"]


def test_every_registered_job_kind_resolves_to_a_backend_function():
    import inspect

    from gdbackend.jobs import KINDS
    assert {"register", "segment.train", "segment.predict", "classify.predict", "detect.predict"} <= set(KINDS)
    for name, kind in KINDS.items():
        function = kind.function()
        assert list(inspect.signature(function).parameters) == ["inputs", "options", "outputs", "context"], name
        # results come back as files in the job's folder; a download's file is the model cache's own
        assert kind.outputs or name == "models.fetch", f"{name}: a job returns its results as files"


def test_on_windows_a_job_opens_no_console_and_its_own_process_group():
    from gdbackend.job import process_options
    flags = process_options(windows=True)["creationflags"]
    assert flags & 0x8000000 and flags & 0x200  # CREATE_NO_WINDOW | CREATE_NEW_PROCESS_GROUP
    assert process_options(windows=False) == {"start_new_session": True}


def test_the_job_process_stops_on_the_signal_a_windows_cancel_raises():
    """CTRL_BREAK_EVENT arrives as SIGBREAK, which the job must handle as a stop request."""
    import types

    from gdbackend.job import stop_signals
    windows = types.SimpleNamespace(SIGTERM=signal.SIGTERM, SIGBREAK=21)
    assert stop_signals(windows) == [signal.SIGTERM, 21]
    assert stop_signals(types.SimpleNamespace(SIGTERM=signal.SIGTERM)) == [signal.SIGTERM]


def test_a_cancelled_job_is_cancelled_whatever_its_exit_code(tmp_path, monkeypatch):
    """Windows reports a terminated process with a positive exit code, not -SIGTERM: a job the user cancelled
    must still read as cancelled, not as failed."""
    job = Job(write_spec(tmp_path, {"iterations": 10 ** 6, "tolerance": 0}))
    deadline = time.monotonic() + 60
    while job.last_progress is None and job.running and time.monotonic() < deadline:
        job.poll()
        time.sleep(0.02)

    def terminate_as_windows_does(sig):
        job.process.kill()
        job.process.wait()
        job.process.returncode = 1  # TerminateProcess's exit code, not a negative signal number

    monkeypatch.setattr(job, "_signal_group", terminate_as_windows_does)
    job.cancel()
    assert job.state == "cancelled" and job.error is None
