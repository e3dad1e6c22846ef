"""`qt` as Slicer's Python sees it (PythonQt puts QtCore, QtGui and QtWidgets in one module), here over
real Qt through PySide6."""
from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

_SOURCES = (QtCore, QtGui, QtWidgets)


def __getattr__(name: str):
    # PySide6 loads its classes lazily: look each up on first use
    for source in _SOURCES:
        if hasattr(source, name):
            return getattr(source, name)
    raise AttributeError(f"module 'qt' has no attribute {name!r}")
