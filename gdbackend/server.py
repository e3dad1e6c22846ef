"""`gd server`: a process that has imported torch, SimpleITK and MONAI once and forks a child for each `gd` command.

On a small machine `import torch` alone takes 1.5-3.5 s, several times a 2D registration's own work; a script that
runs `gd register` over many pairs pays it on every call. While a server runs, `gd COMMAND ...` hands its arguments,
working folder, environment and its own stdin/stdout/stderr to the server, which forks a child that runs the command
as that process would have (output straight to the caller's terminal or pipes, the exit code returned, Ctrl-C passed
on as a cancel); the caller's process itself imports nothing heavy. Without a server `gd` runs the command itself.

The socket lives in a folder only its user can enter, and its name holds a stamp of the interpreter and of this
package's sources, so a `gd` of another environment, or of changed sources, never reaches a server running old code.
Forking needs POSIX (Linux, macOS); the server does no tensor work itself, so no thread pool is inherited.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .errors import InputError

IDLE_MINUTES = 30.0          # a server with nothing to do for this long ends by itself
READY_TIMEOUT_S = 300.0      # how long `gd server start` waits for the imports
_HEADER = struct.Struct("!I")  # request length, sent ahead of the JSON request


def supported() -> bool:
    return os.name == "posix" and hasattr(os, "fork") and hasattr(socket, "send_fds")


def socket_path() -> Path:
    """This environment's server socket: in a per-user folder (mode 0700), named by a stamp of the interpreter and
    of the package's source and data files (their names, sizes and modification times). POSIX only."""
    package = Path(__file__).resolve().parent
    stamp = hashlib.sha256(_environment().encode())
    for source in sorted([*package.rglob("*.py"), *package.rglob("*.json")]):   # code, and data read at import
        info = source.stat()
        stamp.update(f"\0{source.relative_to(package)}\0{info.st_size}\0{info.st_mtime_ns}".encode())
    base = Path(os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir())
    return base / f"gdimaging-{os.getuid()}" / f"server-{stamp.hexdigest()[:16]}.sock"


def _environment() -> str:
    """What a server shares with its callers besides the sources: the interpreter and where this package is."""
    return f"{sys.executable}\0{Path(__file__).resolve().parent}"


def _private_folder(path: Path) -> Path:
    path.mkdir(mode=0o700, exist_ok=True)
    info = path.stat()
    if info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise InputError(f"{path} is not a folder only you can use (owner {info.st_uid}, mode {oct(info.st_mode)}); "
                         "remove it or set XDG_RUNTIME_DIR to a private folder")
    return path


# ---- the caller's side ----------------------------------------------------------------------------------------

def _connect(path: Path) -> socket.socket | None:
    if not path.exists():
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(path))
    except OSError:
        sock.close()
        return None
    return sock


def _send(sock: socket.socket, request: dict, fds: list[int] = ()) -> None:
    data = json.dumps(request).encode()
    socket.send_fds(sock, [_HEADER.pack(len(data)) + data], list(fds))


def _ask(request: dict, path: Path | None = None, timeout: float = 5.0) -> dict | None:
    """The server's one-line answer to a status or stop request; None when no server answers."""
    sock = _connect(path or socket_path())
    if sock is None:
        return None
    with sock:
        sock.settimeout(timeout)
        try:
            _send(sock, request)
            return json.loads(sock.makefile("r").readline() or "null")
        except (OSError, ValueError):
            return None


def _streams_open() -> bool:
    try:
        for fd in (0, 1, 2):
            os.fstat(fd)
    except OSError:
        return False
    return True


def delegate(argv: list[str]) -> int | None:
    """Run `gd ARGV` in the running server, with this process's folder, environment and standard streams; its exit
    code, or None when no server runs here (the caller then runs the command itself). SIGINT and SIGTERM received
    meanwhile are passed on to the command as a cancel (SIGINT)."""
    if (not supported() or os.environ.get("GD_SERVER") == "off" or int(os.environ.get("WORLD_SIZE", "1")) > 1
            or not _streams_open()):
        return None                          # Windows (no fork, no os.getuid) always runs here
    sock = _connect(socket_path())
    if sock is None:
        return None
    with sock:
        _send(sock, {"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ)}, [0, 1, 2])
        lines = sock.makefile("r")
        started = json.loads(lines.readline() or "null")
        if not started:
            return None                      # the server is stopping: run here
        child = started["pid"]
        forward = lambda *_: os.kill(child, signal.SIGINT)  # noqa: E731
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, forward)
        ended = json.loads(lines.readline() or "null")
    if ended is None:
        print("gd: the server ended before the command did (see `gd server status`)", file=sys.stderr)
        return 1
    return int(ended["exit"])


# ---- the server's side ----------------------------------------------------------------------------------------

def _receive(conn: socket.socket) -> tuple[dict, list[int]]:
    head, fds, _, _ = socket.recv_fds(conn, _HEADER.size, 3)
    data = b""
    if len(head) == _HEADER.size:
        size = _HEADER.unpack(head)[0]
        while len(data) < size:
            chunk = conn.recv(size - len(data))
            if not chunk:
                break
            data += chunk
    return json.loads(data or b"{}"), fds


def _as_process(request: dict, fds: list[int]) -> None:
    """In a forked child: become the caller's process (its streams, folder, environment, default signals)."""
    signal.set_wakeup_fd(-1)
    for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    # Python chose the server's buffering when it started (no terminal there); decide again for the caller's streams
    sys.stdin = open(0, closefd=False)
    sys.stdout = open(1, "w", buffering=1 if os.isatty(1) else -1, closefd=False)
    sys.stderr = open(2, "w", buffering=1, closefd=False, errors="backslashreplace")
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    if "numpy" in sys.modules:             # a new process would have drawn fresh entropy; forks share the server's
        sys.modules["numpy"].random.seed()


def _run_child(request: dict, fds: list[int]) -> int:
    from .cli import run_local
    try:
        _as_process(request, fds)
        code = run_local(request["argv"])
    except SystemExit as e:                 # argparse's usage errors and --help
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:                   # noqa: BLE001 - the child must always reach os._exit
        import traceback
        traceback.print_exc()
        code = 1
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    return code


def _gone(conn: socket.socket) -> bool:
    """Whether the caller at the other end has closed (or reset) its connection."""
    try:
        return not conn.recv(1, socket.MSG_PEEK)
    except OSError:
        return True


class _Server:
    """The accept loop: one forked child per command; a status or stop request answered at once."""

    def __init__(self, listener: socket.socket, idle_s: float) -> None:
        self.listener, self.idle_s = listener, idle_s
        self.children: dict[int, socket.socket] = {}     # child pid -> its caller's connection
        self.cancelled: set[int] = set()                 # children whose caller went away
        self.served, self.stopping, self.last = 0, False, time.monotonic()
        self.started = time.time()
        self.wake_r, wake_w = os.pipe()
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)   # wake select() when a child ends
        signal.signal(signal.SIGTERM, lambda *_: setattr(self, "stopping", True))

    def loop(self) -> None:
        while self.children or not (self.stopping or time.monotonic() - self.last > self.idle_s):
            callers = {pid: conn for pid, conn in self.children.items() if pid not in self.cancelled}
            watched = [self.listener, self.wake_r, *callers.values()]
            ready, _, _ = select.select(watched, [], [], 1.0)
            if self.wake_r in ready:
                os.read(self.wake_r, 512)
            if self.listener in ready and not self.stopping:
                try:
                    self._accept()
                except (OSError, ValueError) as e:          # a caller that went away or sent garbage
                    print(f"gd server: a request failed: {e}", file=sys.stderr, flush=True)
            for pid, conn in callers.items():
                if conn in ready and _gone(conn):
                    os.kill(pid, signal.SIGINT)         # the caller went away: cancel its command, once
                    self.cancelled.add(pid)
            self._reap()

    def _accept(self) -> None:
        conn, _ = self.listener.accept()
        self.last = time.monotonic()
        try:
            request, fds = _receive(conn)
        except (OSError, ValueError):
            conn.close()
            raise
        if "argv" not in request:
            answer = {"pid": os.getpid(), "served": self.served, "running": len(self.children),
                      "up_s": round(time.time() - self.started), "idle_minutes": self.idle_s / 60,
                      "environment": _environment()}
            self.stopping = self.stopping or bool(request.get("stop"))
            with conn:
                conn.sendall((json.dumps(answer) + "\n").encode())
            return
        self._fork(conn, request, fds)

    def _fork(self, conn: socket.socket, request: dict, fds: list[int]) -> None:
        pid = os.fork()
        if pid == 0:
            code = 1
            try:                                        # whatever happens, the child never returns into this loop
                self.listener.close()
                for other in [*self.children.values(), conn]:
                    other.close()
                code = _run_child(request, fds)
            finally:
                os._exit(code)
        for fd in fds:
            os.close(fd)
        self.children[pid] = conn
        self.served += 1
        try:
            conn.sendall((json.dumps({"pid": pid}) + "\n").encode())
        except OSError:
            os.kill(pid, signal.SIGINT)                 # the caller is already gone
            self.cancelled.add(pid)

    def _reap(self) -> None:
        while self.children:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                return
            conn = self.children.pop(pid, None)
            self.cancelled.discard(pid)
            if conn is not None:
                try:
                    conn.sendall((json.dumps({"exit": os.waitstatus_to_exitcode(status) % 256}) + "\n").encode())
                except OSError:
                    pass                        # the caller is gone
                conn.close()
            self.last = time.monotonic()


def serve(idle_minutes: float = IDLE_MINUTES) -> None:
    """Import what the commands need, then serve until stopped or idle for `idle_minutes`."""
    import importlib

    from .cli import COMMANDS
    from .jobs import KINDS
    path = socket_path()
    _private_folder(path.parent)
    if _ask({"status": True}) is not None:
        raise InputError(f"a server already runs on {path}")
    for module, _ in COMMANDS.values():     # what a child needs: each command's module, each job kind's libraries
        importlib.import_module(module)
    for kind in KINDS.values():
        kind.load()
    path.unlink(missing_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(16)
    try:
        _Server(listener, idle_minutes * 60).loop()
    finally:
        listener.close()
        path.unlink(missing_ok=True)


# ---- `gd server` ------------------------------------------------------------------------------------------------

def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("server", help="keep torch imported in a background process so gd commands start at once",
                       description=__doc__.split("\n\n")[1], formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="GD_SERVER=off in the environment runs a command in its own process even while a server\n"
                              "runs. The server's messages go to server.log beside its socket (gd server status).")
    p.add_argument("action", choices=("start", "stop", "status", "run"),
                   help="start one in the background (waits until it is ready), stop it (after the commands it runs), "
                        "print its state, or run one in the foreground (for a service manager)")
    p.add_argument("--idle", type=float, default=IDLE_MINUTES, metavar="MINUTES",
                   help=f"end after this many minutes with nothing to do (default {IDLE_MINUTES:g})")
    p.set_defaults(run=run)


def _describe(state: dict) -> str:
    return (f"running (pid {state['pid']}, up {state['up_s']} s, {state['served']} commands served, "
            f"{state['running']} running, ends after {state['idle_minutes']:g} min idle) on {socket_path()}")


def _stop_outdated() -> None:
    """Stop the servers of this environment that run sources since changed (their socket has another stamp)."""
    current = socket_path()
    for path in current.parent.glob("server-*.sock"):
        if path != current and (_ask({"status": True}, path) or {}).get("environment") == _environment():
            _ask({"stop": True}, path)


def _start(idle_minutes: float) -> int:
    state = _ask({"status": True})
    if state is not None:
        print(f"gd server: already {_describe(state)}")
        return 0
    _stop_outdated()
    log = _private_folder(socket_path().parent) / "server.log"
    with open(log, "ab") as out:
        command = [sys.executable, "-m", "gdbackend.cli", "server", "run", "--idle", str(idle_minutes)]
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True)
    end = time.monotonic() + READY_TIMEOUT_S
    while (state := _ask({"status": True})) is None:
        if process.poll() is not None or time.monotonic() > end:
            process.kill()
            raise InputError(f"the server did not start; its messages are in {log}")
        time.sleep(0.2)
    print(f"gd server: {_describe(state)}")
    return 0


def run(args: argparse.Namespace) -> int:
    if not supported():
        raise InputError("gd server needs a POSIX system with fork (Linux, macOS); run gd commands directly")
    if args.action == "run":
        serve(args.idle)
        return 0
    if args.action == "start":
        return _start(args.idle)
    if args.action == "stop":
        _stop_outdated()
    state = _ask({"status": True, "stop": args.action == "stop"})
    if state is None:
        print("gd server: not running")
        return 0 if args.action == "stop" else 1
    print(f"gd server: {'stopping once its commands end, ' if args.action == 'stop' else ''}{_describe(state)}")
    return 0
