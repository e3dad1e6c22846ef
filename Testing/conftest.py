"""Shared test set-up: Testing/ on sys.path (case builders, the Slicer double) and two torch threads,
the machine's core count, so timings and results do not depend on the runner's defaults."""
from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
torch.set_num_threads(2)
