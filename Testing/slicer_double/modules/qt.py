"""`qt` as Slicer's Python sees it (PythonQt puts QtCore, QtGui and QtWidgets in one module), here over
real Qt through PySide6. `QUiLoader` is Slicer's: it knows the CTK and qMRML widgets (their stand-ins in
slicer_double.qt_widgets) and gives PythonQt-style widgets, so that slicer.util.loadUI works unchanged."""
from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

_SOURCES = (QtCore, QtGui, QtWidgets)


def __getattr__(name: str):
    if name == "QUiLoader":
        from slicer_double.qt_widgets import UiLoader
        return UiLoader
    # PySide6 loads its classes lazily: look each up on first use
    for source in _SOURCES:
        if hasattr(source, name):
            return getattr(source, name)
    raise AttributeError(f"module 'qt' has no attribute {name!r}")
