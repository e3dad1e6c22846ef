"""A test double of the Slicer Python API on real VTK, for running module Logic without Slicer.

    import slicer_double
    slicer = slicer_double.install()      # puts slicer, slicer.util, ... and qt into sys.modules

Every public name it exposes exists in Slicer 5.12 (shared/slicer/api.json; checked by
Testing/test_slicer_double.py). `qt` is real Qt (PySide6) under PythonQt's module name.
"""
from __future__ import annotations

import sys
import tempfile
import types

from . import mrml_core, mrml_nodes, mrml_results, sampledata, scripted, util

MRML_CLASSES = {name: obj for module in (mrml_core, mrml_nodes, mrml_results) for name, obj in vars(module).items()
                if isinstance(obj, type) and name.startswith(("vtkMRML", "vtkSegment"))}


class _Application:
    """slicer.app outside the main window: testing mode, one scene."""

    def testingEnabled(self) -> bool:
        return True

    def mrmlScene(self):
        return sys.modules["slicer"].mrmlScene

    def processEvents(self) -> None:
        pass

    @property
    def temporaryPath(self) -> str:  # a Q_PROPERTY: an attribute in PythonQt
        return tempfile.gettempdir()


def _qt_module() -> types.ModuleType:
    from PySide6 import QtCore, QtGui, QtWidgets
    qt = types.ModuleType("qt")

    def __getattr__(name: str):  # PySide6 loads its classes lazily: look them up on use
        for source in (QtCore, QtGui, QtWidgets):
            if name.startswith("Q") and hasattr(source, name):
                return getattr(source, name)
        raise AttributeError(f"module 'qt' has no attribute {name!r}")

    qt.__getattr__ = __getattr__
    return qt


def install() -> types.ModuleType:
    """Install the double (idempotent) with a fresh, empty scene; returns the `slicer` module."""
    slicer = sys.modules.get("slicer")
    if slicer is None or not getattr(slicer, "_is_double", False):
        slicer = types.ModuleType("slicer")
        slicer.__path__ = []  # a package, so that `import slicer.util` works
        slicer._is_double = True
        submodules = {"slicer.util": util, **scripted.modules()}
        for name, module in submodules.items():
            sys.modules[name] = module
            setattr(slicer, name.split(".")[1], module)
        slicer.__dict__.update(MRML_CLASSES)
        slicer.app = _Application()
        slicer.modules = types.SimpleNamespace()
        slicer.selfTests = {}
        sys.modules["slicer"] = slicer
        sys.modules.setdefault("qt", _qt_module())
        sys.modules["SampleData"] = sampledata.module()
    slicer.mrmlScene = mrml_core.vtkMRMLScene()
    util._messages.clear()
    return slicer
