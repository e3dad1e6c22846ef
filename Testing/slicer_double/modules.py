"""Import the GD Slicer modules against the Slicer test double (as Slicer would, from their folders)."""
from __future__ import annotations

import importlib
import sys
from pathlib import Path

from . import install

ROOT = Path(__file__).resolve().parents[2]
MODULE_DIRS = [ROOT / "GDSegment", ROOT / "GDRegister"]


def load(name: str):
    """A fresh scene and the module `name` (GDSegment or GDRegister) imported from its folder."""
    install()
    for folder in MODULE_DIRS:
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
    return importlib.import_module(name)
