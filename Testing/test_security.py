"""Security of the glue, checked on the source: no shell (shell=True, os.system, os.popen, shell strings
to subprocess), every torch.load weights-only, and temporary files only in private places."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted(p for folder in ("gdbackend", "GDSegment", "GDRegister") for p in (ROOT / folder).rglob("*.py"))


def calls(path: Path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Call):
            yield node, ast.unparse(node.func)


def where(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(ROOT)}:{node.lineno}"


def test_sources_were_found():
    assert len(SOURCES) > 50 and any(p.name == "job.py" for p in SOURCES)


def shell_uses(path: Path) -> list[str]:
    bad = []
    for node, name in calls(path):
        if name in ("os.system", "os.popen", "subprocess.getoutput", "subprocess.getstatusoutput"):
            bad.append(f"{where(path, node)} {name}")
        for kw in node.keywords:
            if kw.arg == "shell" and not (isinstance(kw.value, ast.Constant) and kw.value.value is False):
                bad.append(f"{where(path, node)} {name}(shell=...)")
        if name.startswith("subprocess.") and node.args and isinstance(node.args[0], (ast.Constant, ast.JoinedStr)):
            bad.append(f"{where(path, node)} {name} with a command string: give an argument list")
    return bad


# eval of a config expression whose syntax tree was first checked against an allow-list (no attribute access but
# named torch/numpy values, no builtins but a few pure functions): the escapes below are refused before it runs
CHECKED_EVAL = {"gdbackend/segment/bundle_expressions.py"}


def unsafe_calls(path: Path) -> list[str]:
    bad = []
    checked_eval = path.relative_to(ROOT).as_posix() in CHECKED_EVAL
    for node, name in calls(path):
        if name == "eval" and checked_eval:
            continue
        if name == "torch.load":
            flag = next((kw.value for kw in node.keywords if kw.arg == "weights_only"), None)
            if not (isinstance(flag, ast.Constant) and flag.value is True):
                bad.append(f"{where(path, node)} torch.load without weights_only=True")
        if name in ("tempfile.mktemp", "pickle.load", "pickle.loads", "eval", "exec"):
            bad.append(f"{where(path, node)} {name}")
    return bad


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_shell_no_unsafe_loading(path):
    bad = shell_uses(path) + unsafe_calls(path)
    assert not bad, "; ".join(bad)


def test_the_scan_finds_each_pattern(tmp_path, monkeypatch):
    monkeypatch.setattr(__import__(__name__), "ROOT", tmp_path)
    bad = tmp_path / "bad.py"
    bad.write_text("import os, subprocess, torch, tempfile\n"
                   "os.system('ls')\nsubprocess.run('ls -l', shell=True)\nsubprocess.Popen(f'ls {x}')\n"
                   "torch.load(p)\ntorch.load(p, weights_only=False)\ntempfile.mktemp()\n"
                   "subprocess.run(['ls'], shell=False)\ntorch.load(p, weights_only=True)\n")
    assert len(shell_uses(bad)) == 4 and len(unsafe_calls(bad)) == 3


@pytest.mark.parametrize("expression", [
    "$().__class__.__bases__[0].__subclasses__()", "$__import__('os').system('ls')", "$open('/etc/passwd')",
    "$[c for c in ().__class__.__mro__]", "$(lambda: 0).__globals__", "$getattr(1, 'real')",
    "$torch.load('x.pt')", "$np.load('x.npy', allow_pickle=True)", "$@a.__class__", "$exec('1')",
    "$globals()", "$'{0.__class__}'.format(1)",
])
def test_the_checked_eval_refuses_what_would_run_code(expression):
    from gdbackend.segment.bundle_expressions import Untrusted, evaluate
    with pytest.raises(Untrusted):
        evaluate(expression, lambda ref: [1, 2], "test")
