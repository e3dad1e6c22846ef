"""Shared test set-up: Testing/ on sys.path (case builders, the Slicer double), two torch threads (the
machine's core count, so timings and results do not depend on the runner's defaults), a folder per test
module, a read-only folder."""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
torch.set_num_threads(2)


@pytest.fixture(scope="module")
def module_tmp(request, tmp_path_factory) -> Path:
    """A folder for the files a test module's fixtures share, removed after the module (with the retention
    policy in pyproject.toml, which removes each passed test's tmp_path): a run keeps gigabytes of model
    files otherwise, and a CI disk may hold little more than the environment."""
    folder = tmp_path_factory.mktemp(request.module.__name__.removeprefix("test_"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def read_only(tmp_path, monkeypatch) -> Path:
    """A folder nobody may write in; as root (who ignores permission bits) os.access answers as for a user."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    if os.geteuid() == 0:
        real = os.access
        monkeypatch.setattr(os, "access", lambda p, mode, *a, **k:
                            not (Path(p).resolve() == folder.resolve() and mode & os.W_OK) and real(p, mode, *a, **k))
    yield folder
    folder.chmod(0o755)


@pytest.fixture
def slicer_panel():
    """Opens a GD module's panel as Slicer does (`slicer_panel("GDRegister")`: built, set up, entered) and closes
    it after the test as Slicer does when the module is left and unloaded (exit, cleanup), even when the test
    fails: a panel left connected to the scene's parameter node would be updated after its widgets are gone."""
    from slicer_double import moduleWidget
    opened = []

    def open_panel(name: str):
        widget = moduleWidget(name)
        widget.parent.enter()
        opened.append(widget)
        return widget

    yield open_panel
    for widget in opened:
        widget.parent.exit()
        widget.cleanup()
