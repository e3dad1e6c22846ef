"""`gd server`: commands handed to a running server do what the same command does in its own process (outputs,
exit codes, messages, the caller's folder and environment), Ctrl-C cancels them without a half result, a caller
that dies takes its command with it, and `stop` ends the server."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gdbackend.register import sample as cases

pytestmark = pytest.mark.skipif(os.name != "posix", reason="gd server forks: POSIX only")
GD = [sys.executable, "-m", "gdbackend.cli"]


def gd(env: dict, *args: str, cwd: Path | None = None, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([*GD, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300, **kw)


def status(env: dict) -> dict | None:
    """The server's state through its own client, or None when `gd server status` says none runs."""
    from gdbackend import server
    old = os.environ.get("XDG_RUNTIME_DIR")
    os.environ["XDG_RUNTIME_DIR"] = env["XDG_RUNTIME_DIR"]
    try:
        return server._ask({"status": True})
    finally:
        os.environ.pop("XDG_RUNTIME_DIR") if old is None else os.environ.__setitem__("XDG_RUNTIME_DIR", old)


@pytest.fixture(scope="module")
def served(module_tmp):
    """A running server in a private runtime folder, the environment that reaches it, and a folder with case A."""
    runtime = module_tmp / "run"
    runtime.mkdir(mode=0o700)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime)}
    env.pop("GD_SERVER", None)
    started = gd(env, "server", "start", "--idle", "5")
    assert started.returncode == 0, started.stderr
    work = module_tmp / "work"
    work.mkdir()
    fixed, moving = cases.pair_2d("A")
    fixed.write(work / "fixed.nii.gz")
    moving.write(work / "moving.nii.gz")
    yield env, work
    gd(env, "server", "stop")


def test_a_served_command_is_the_command(served):
    env, work = served
    before = status(env)["served"]
    args = ("register", "fixed.nii.gz", "moving.nii.gz", "--transform", "translation", "--json")
    through = gd(env, *args, "--output-transform", "served.tfm", cwd=work)
    assert through.returncode == 0, through.stderr
    assert status(env)["served"] == before + 1                       # it did run in the server
    alone = gd({**env, "GD_SERVER": "off"}, *args, "--output-transform", "alone.tfm", cwd=work)
    assert status(env)["served"] == before + 1                       # GD_SERVER=off runs it here
    served_result, own_result = json.loads(through.stdout), json.loads(alone.stdout)
    assert served_result["parameters"] == own_result["parameters"]   # same numbers; paths relative to the caller
    assert (work / "served.tfm").read_text() == (work / "alone.tfm").read_text()

    missing = gd(env, "register", "nope.nii.gz", "moving.nii.gz", "--output-transform", "x.tfm", cwd=work)
    assert missing.returncode == 2 and "nope.nii.gz" in missing.stderr and "Traceback" not in missing.stderr
    usage = gd(env, "register", "--bogus", cwd=work)
    assert usage.returncode == 2 and "usage: gd register" in usage.stderr
    registry = work / "no-such-models.json"                          # the caller's environment reaches the command
    listed = gd({**env, "GDIMAGING_MODELS": str(registry)}, "models", "list", cwd=work)
    assert listed.returncode == 2 and str(registry) in listed.stderr
    assert status(env)["served"] == before + 4


def long_command(work: Path, output: str) -> list[str]:
    """A deformable 3D registration of some seconds, writing `output` only at its end."""
    if not (work / "D_fixed.nii.gz").exists():
        fixed, moving, _ = cases.affine_case("2mm")
        fixed.write(work / "D_fixed.nii.gz")
        moving.write(work / "D_moving.nii.gz")
    return [*GD, "register", "D_fixed.nii.gz", "D_moving.nii.gz", "--transform", "affine,bspline",
            "--output-transform", output]


def wait_running(env: dict, count: int, timeout: float = 30) -> None:
    end = time.monotonic() + timeout
    while status(env)["running"] != count:
        assert time.monotonic() < end, f"the server never had {count} commands running"
        time.sleep(0.1)


def test_ctrl_c_cancels_the_served_command(served):
    env, work = served
    caller = subprocess.Popen(long_command(work, "cancelled.tfm"), env=env, cwd=work, stderr=subprocess.PIPE, text=True)
    wait_running(env, 1)
    time.sleep(1)
    caller.send_signal(signal.SIGINT)
    assert caller.wait(60) == 130
    assert "cancelled" in caller.stderr.read()
    wait_running(env, 0)
    assert not (work / "cancelled.tfm").exists()


def test_a_caller_that_dies_takes_its_command_with_it(served):
    env, work = served
    caller = subprocess.Popen(long_command(work, "orphan.tfm"), env=env, cwd=work, stderr=subprocess.DEVNULL)
    wait_running(env, 1)
    caller.kill()
    caller.wait()
    wait_running(env, 0)
    assert not (work / "orphan.tfm").exists()


def test_stop_ends_the_server(module_tmp):
    runtime = module_tmp / "run-stop"
    runtime.mkdir(mode=0o700)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime)}
    assert gd(env, "server", "start").returncode == 0
    assert gd(env, "server", "start").stdout.startswith("gd server: already running")
    stopped = gd(env, "server", "stop")
    assert stopped.returncode == 0 and "stopping" in stopped.stdout
    end = time.monotonic() + 10
    while status(env) is not None or list(runtime.glob("*/*.sock")):
        assert time.monotonic() < end, "the server did not end"
        time.sleep(0.1)
    assert gd(env, "server", "status").returncode == 1


def test_without_fork_every_command_runs_in_its_own_process(monkeypatch):
    """On Windows (no fork, no os.getuid) `gd` never looks for a server: the command runs in its own process."""
    from gdbackend import server
    monkeypatch.setattr(server, "supported", lambda: False)
    monkeypatch.delattr(os, "getuid")
    assert server.delegate(["register", "--help"]) is None
