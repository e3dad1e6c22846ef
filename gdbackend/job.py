"""Job runner: long work in its own process, with JSON-lines progress, file results and cancel.

    python -m gdbackend.job SPEC.json
    python -m gdbackend.job --ready KIND     (a spare: imports what a KIND job needs, then reads SPEC.json's
                                              path from stdin; an empty line or end of input ends it)

runs the job the spec describes (see `gdbackend.jobs`) and writes one JSON object per line
on stdout: {"event": "ready"} (a spare, once its imports are done), {"event": "started"},
{"event": "progress", "fraction", "eta_s", "loss", ...},
{"event": "message", "message"} for what the user should know (e.g. an out-of-memory fallback),
then exactly one of {"event": "done", "outputs", "summary"}, {"event": "error", "type",
"message"} or {"event": "cancelled"}. Outputs are written in a staging folder beside each
output and moved into place only when the job succeeds, so a failed or cancelled job leaves
no output files. `Job` starts and watches such a process without blocking the caller
(the Slicer panels poll it from a timer), or takes over a `Spare` started ahead of time so that the work
begins without seconds of imports; `run_spec` runs the same work in-process.
"""
from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from pathlib import Path

from .errors import Cancelled, GDError, InputError
from .jobs import KINDS, JobSpec, parse_spec

STAGING_PREFIX = ".gdjob-"
PROGRESS_INTERVAL_S = 0.05  # at most ~20 progress events a second; the last one before the end is kept


def staging_path(output: Path, token: int | str) -> Path:
    """Where a job identified by `token` writes `output` before it succeeds."""
    return output.parent / f"{STAGING_PREFIX}{token}" / output.name


class JobContext:
    """What a job function gets to report progress and to check for cancel."""

    def __init__(self, emit: Callable[[dict], None], cancel: Callable[[], bool] | None = None) -> None:
        self._emit, self._cancel = emit, cancel
        self.start = time.perf_counter()
        self._last = 0.0
        self._pending: dict | None = None

    def cancelled(self) -> bool:
        return bool(self._cancel and self._cancel())

    def progress(self, fraction: float, **fields) -> None:
        """Report progress; `fraction` in [0, 1]; fields such as loss, stage, epoch, message."""
        now = time.perf_counter()
        fraction = min(max(float(fraction), 0.0), 1.0)
        elapsed = now - self.start
        eta = elapsed * (1 - fraction) / fraction if fraction > 0 else None
        self._pending = {"event": "progress", "fraction": round(fraction, 5),
                         "elapsed_s": round(elapsed, 3), "eta_s": None if eta is None else round(eta, 2), **fields}
        if now - self._last >= PROGRESS_INTERVAL_S:
            self.flush()

    def message(self, text: str) -> None:
        """Tell the user something at once (never dropped by the rate limit), e.g. why the job slowed down."""
        self.flush()
        self._emit({"event": "message", "message": text})

    def flush(self) -> None:
        if self._pending is not None:
            self._emit(self._pending)
            self._pending, self._last = None, time.perf_counter()


def run_spec(spec: dict | JobSpec, emit: Callable[[dict], None] | None = None,
             cancel: Callable[[], bool] | None = None, token: int | str | None = None,
             base: Path | None = None) -> dict:
    """Run a job in this process; returns the "done" event. Raises GDError subclasses on bad input."""
    job = spec if isinstance(spec, JobSpec) else parse_spec(spec, base)
    emit = emit or (lambda event: None)
    token = os.getpid() if token is None else token
    staged = {key: staging_path(path, token) for key, path in job.outputs.items()}
    context = JobContext(emit, cancel)
    try:
        for path in staged.values():
            path.parent.mkdir(exist_ok=True)
        summary = KINDS[job.kind].function()(job.inputs, job.options, staged, context)
        if context.cancelled():
            raise Cancelled("The job was cancelled: no output was written.")
        missing = [k for k, p in staged.items() if not p.exists()]
        if missing:
            raise GDError(f"The {job.kind} job finished without writing {missing}: this is a bug, please report it.")
        context.flush()
        for key, path in staged.items():
            os.replace(path, job.outputs[key])
    finally:
        remove_staging(job.outputs.values(), token)
    return {"event": "done", "kind": job.kind, "outputs": {k: str(p) for k, p in job.outputs.items()},
            "summary": summary or {}, "seconds": round(time.perf_counter() - context.start, 3)}


def remove_staging(outputs, token: int | str) -> None:
    for folder in {staging_path(Path(p), token).parent for p in outputs}:
        shutil.rmtree(folder, ignore_errors=True)


# ---------------------------------------------------------------------- the job process
def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    out = sys.stdout
    sys.stdout = sys.stderr  # whatever the job's libraries print must not mix with the events
    lock = threading.Lock()

    def emit(event: dict) -> None:
        with lock:
            out.write(json.dumps(event, default=str) + "\n")
            out.flush()

    stop = threading.Event()
    for sig in stop_signals():
        signal.signal(sig, lambda *_: stop.set())
    if not (len(argv) == 1 or (len(argv) == 2 and argv[0] == "--ready")):
        emit({"event": "error", "type": "InputError",
              "message": "Usage: python -m gdbackend.job SPEC.json, or python -m gdbackend.job --ready KIND"})
        return 2
    try:
        if len(argv) == 2:
            argv = _wait_for_spec(argv[1], emit)
            if not argv:
                return 0
        spec_path = Path(argv[0])
        spec = _read_spec(spec_path)
        emit({"event": "started", "kind": spec.get("kind"), "pid": os.getpid()})
        emit(run_spec(spec, emit, stop.is_set, base=spec_path.parent))
        return 0
    except Cancelled:
        emit({"event": "cancelled"})
        return 130
    except GDError as e:
        emit({"event": "error", "type": type(e).__name__, "message": str(e)})
        return 2
    except Exception as e:  # an unexpected failure: say what and where, for a bug report
        emit({"event": "error", "type": type(e).__name__, "message": f"{type(e).__name__}: {e}",
              "traceback": traceback.format_exc(limit=8)})
        return 1


def _wait_for_spec(kind: str, emit: Callable[[dict], None]) -> list[str]:
    """A spare's wait: import what a `kind` job needs now, say so, then read the spec's path from stdin.
    Returns [path], or [] when the spare is let go (an empty line, or stdin closed because its owner ended)."""
    if kind not in KINDS:
        raise InputError(f"Unknown job kind {kind!r}: this gdbackend runs {', '.join(sorted(KINDS))}.")
    KINDS[kind].load()
    emit({"event": "ready", "kind": kind})
    line = sys.stdin.readline().strip()
    return [line] if line else []


def _read_spec(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"Job spec {path} not found.") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"Job spec {path} is not valid JSON ({e}).") from None


def stop_signals(platform_signals=signal) -> list:
    """The signals that ask a job to stop: SIGTERM, and on Windows SIGBREAK, which CTRL_BREAK_EVENT raises in a
    process group started with CREATE_NEW_PROCESS_GROUP (what `Job.cancel` sends there)."""
    return [platform_signals.SIGTERM] + ([platform_signals.SIGBREAK] if hasattr(platform_signals, "SIGBREAK") else [])


def process_options(windows: bool = os.name == "nt") -> dict:
    """Popen options for a job process: its own process group (so a cancel reaches everything it started) and,
    on Windows, no console window popping up over Slicer."""
    if windows:  # the Win32 flag values, so that the choice can be checked on any platform
        return {"creationflags": getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0x200)
                | getattr(subprocess, "CREATE_NO_WINDOW", 0x8000000)}
    return {"start_new_session": True}


# ---------------------------------------------------------------------- the caller's side
class _Process:
    """A `python -m gdbackend.job ARGS` process and the threads that read its events and its log; `waits`: it
    reads a line from its stdin (a spare)."""

    def __init__(self, args: list[str], python: str | None, env: dict | None, waits: bool = False) -> None:
        package_root = str(Path(__file__).resolve().parent.parent)
        environment = dict(os.environ if env is None else env)
        environment["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, environment.get("PYTHONPATH")]))
        environment["PYTHONUNBUFFERED"] = "1"
        self.events: queue.Queue = queue.Queue()
        self.log: deque[str] = deque(maxlen=40)
        self.ready = threading.Event()
        self.popen = subprocess.Popen(
            [python or sys.executable, "-m", "gdbackend.job", *args],
            stdin=subprocess.PIPE if waits else subprocess.DEVNULL,  # a spare waits for its spec's path
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment, **process_options())
        threading.Thread(target=self._read_events, daemon=True).start()
        threading.Thread(target=self._read_log, daemon=True).start()

    def _read_events(self) -> None:
        for line in self.popen.stdout:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                self.log.append(line.rstrip())
                continue
            if event.get("event") == "ready":
                self.ready.set()
            else:
                self.events.put(event)
        self.events.put(None)  # end of stream

    def _read_log(self) -> None:
        for line in self.popen.stderr:
            self.log.append(line.rstrip())

    def send(self, line: str) -> bool:
        """Write one line to the process and close its input; False if it has already ended."""
        try:
            self.popen.stdin.write(line + "\n")
            self.popen.stdin.close()
        except (BrokenPipeError, OSError, ValueError):
            return False
        return True


class Spare:
    """A job process started before its job: it spends the seconds of importing torch (and MONAI) for a `kind`
    job while the user is still choosing inputs, then waits. A `Job` given it starts its work at once; a spare
    that is never used ends at `close()`, or by itself when its owner's process ends (its stdin closes).

    Args:
        kind: the job kind whose imports to load ahead (a key of `gdbackend.jobs.KINDS`); a spare runs a job of
            any kind, only the imports it loaded ahead differ.
        python, env: the interpreter and environment of the process, as for `Job`.
    """

    def __init__(self, kind: str, python: str | None = None, env: dict | None = None) -> None:
        self._process: _Process | None = _Process(["--ready", kind], python, env, waits=True)

    @property
    def pid(self) -> int | None:
        """The process id while the spare waits; None once it has been used or let go."""
        return None if self._process is None else self._process.popen.pid

    def alive(self) -> bool:
        return self._process is not None and self._process.popen.poll() is None

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Block until the imports are done (True), the process ended or `timeout` s passed (False)."""
        end = None if timeout is None else time.monotonic() + timeout
        while self.alive() and not self._process.ready.wait(0.05):
            if end is not None and time.monotonic() > end:
                return False
        return self.alive() and self._process.ready.is_set()

    def take(self, spec_path: Path) -> _Process | None:
        """Hand the spare its job (once); None if it has ended or was already used."""
        process, self._process = self._process, None
        if process is None or process.popen.poll() is not None or not process.send(str(spec_path)):
            return None
        return process

    def close(self, grace: float = 2.0) -> None:
        """Let an unused spare go: it ends by itself on end of input; killed if it does not within `grace` s."""
        process, self._process = self._process, None
        if process is None:
            return
        process.send("")
        try:
            process.popen.wait(grace)
        except subprocess.TimeoutExpired:
            process.popen.kill()
            process.popen.wait()


class Job:
    """A job process started from a spec file, watched without blocking.

    Call `poll()` regularly (e.g. from a timer): it returns the new events and updates
    `state` ("running", "done", "failed", "cancelled"), `result` and `error`. Given a live `spare`, the job runs
    in it (its imports already done); otherwise in a new process of `python` with `env`.
    """

    def __init__(self, spec_path: str | os.PathLike, python: str | None = None, env: dict | None = None,
                 spare: Spare | None = None) -> None:
        self.spec_path = Path(spec_path)
        spec = _read_spec(self.spec_path)
        job = parse_spec(spec, self.spec_path.parent)  # refuse a bad spec here, before starting anything
        self.kind, self.outputs = job.kind, list(job.outputs.values())
        self.state, self.result, self.error = "running", None, None
        self.last_progress: dict | None = None
        self.messages: list[str] = []
        self._cancel_requested = False
        worker = spare.take(self.spec_path.resolve()) if spare is not None else None  # its cwd may differ
        self._worker = worker or _Process([str(self.spec_path)], python, env)
        self.process = self._worker.popen

    @property
    def log(self) -> str:
        """The last lines the job printed (warnings, library output)."""
        return "\n".join(self._worker.log)

    def poll(self) -> list[dict]:
        events = []
        while True:
            try:
                event = self._worker.events.get_nowait()
            except queue.Empty:
                break
            if event is None:
                self._finish()
                break
            events.append(event)
            self._handle(event)
        return events

    def _handle(self, event: dict) -> None:
        kind = event.get("event")
        if kind == "progress":
            self.last_progress = event
        elif kind == "message":
            self.messages.append(str(event.get("message", "")))
        elif kind == "done":
            self.state, self.result = "done", event
        elif kind == "error" and self.state == "running":
            self.state, self.error = "failed", event.get("message", "unknown error")
        elif kind == "cancelled" and self.state == "running":
            self.state = "cancelled"

    def _finish(self) -> None:
        code = self.process.wait()
        if self._cancel_requested and self.state in ("running", "failed"):
            self.state, self.error = "cancelled", None
        if self.state == "running":  # the process ended without a final event: it crashed
            how = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
            hint = (" It was killed from outside, often by the system when memory runs out: try a smaller image "
                    "or close other programs." if code == -getattr(signal, "SIGKILL", 9) else "")
            tail = "\n".join(list(self._worker.log)[-5:])
            self.state = "failed"
            self.error = (f"The job process ended unexpectedly ({how}) without a result.{hint}"
                          + (f" Its last output:\n{tail}" if tail else ""))
        if self.state != "done":
            remove_staging(self.outputs, self.process.pid)

    @property
    def running(self) -> bool:
        return self.state == "running"

    def wait(self, timeout: float | None = None, interval: float = 0.02) -> str:
        """Poll until the job ends (or `timeout` seconds pass); returns the state."""
        end = None if timeout is None else time.monotonic() + timeout
        while self.running and (end is None or time.monotonic() < end):
            self.poll()
            if self.running:
                time.sleep(interval)
        return self.state

    def cancel(self, grace: float = 0.5) -> None:
        """Stop the job and everything it started; its staged outputs are removed. A job that ends without a
        result after this is cancelled, whatever its exit code (Windows has no negative signal codes)."""
        self._cancel_requested = True
        if self.process.poll() is None:
            self._signal_group(signal.SIGTERM if os.name != "nt" else signal.CTRL_BREAK_EVENT)
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL if os.name != "nt" else None)
                self.process.wait()
        self.wait()

    def _signal_group(self, sig) -> None:
        if os.name == "nt":
            if sig is None:
                subprocess.run(["taskkill", "/T", "/F", "/PID", str(self.process.pid)], capture_output=True)
            else:
                self.process.send_signal(sig)
            return
        try:
            os.killpg(self.process.pid, sig)
        except ProcessLookupError:
            pass


if __name__ == "__main__":
    sys.exit(main())
