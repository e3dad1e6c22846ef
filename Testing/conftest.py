"""Shared test set-up: Testing/ on sys.path (case builders, the Slicer double), two torch threads (the
machine's core count, so timings and results do not depend on the runner's defaults), a read-only folder."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
torch.set_num_threads(2)


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
