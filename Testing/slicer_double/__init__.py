"""Real Slicer Core for the Slicer-side tests, with a double only for what slicer-core lacks.

    import slicer_double
    slicer = slicer_double.install()      # the real `slicer` package, a scene set up as Slicer's

`slicer` is PyPI's slicer-core: Slicer's MRML scene and nodes, module logics and `slicer/util.py`. What
Slicer's application adds on top, and slicer-core does not ship, comes from here, each part written after
Slicer's own sources (Base/Python/slicer/) and naming only what Slicer has (api.json):
- `slicer.app` (application.py), `slicer.mrmlScene` and `slicer.modules` (scene.py);
- `slicer.ScriptedLoadableModule`, `slicer.parameterNodeWrapper`, `slicer.i18n`, `slicer.packaging`
  (slicer_python/, loaded as submodules of the real package, on import as in Slicer);
- the top-level modules `qt` (PySide6), `SampleData` and `PyTorchUtils` (modules/).
"""
from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _extendPaths(slicer) -> None:
    if str(HERE / "slicer_python") not in slicer.__path__:
        # appended after `import slicer`, whose __init__ star-imports every module of its path at once:
        # these load only when imported, as in Slicer (`slicer.packaging` exists once imported)
        slicer.__path__.append(str(HERE / "slicer_python"))
    if str(HERE / "modules") not in sys.path:
        sys.path.insert(0, str(HERE / "modules"))


def install():
    """The real `slicer` package with the application's parts; the scene is cleared as a Slicer test's
    setUp clears it (singletons such as colour tables stay). Returns the `slicer` module."""
    import slicer

    from . import application, scene
    _extendPaths(slicer)
    if getattr(slicer, "app", None) is None:
        slicer.mrmlScene, applicationLogic, slicer.modules, layouts = scene.create()
        slicer.app = application.Application(slicer.mrmlScene, applicationLogic, layouts)
        slicer.selfTests = {}
    else:
        slicer.mrmlScene.Clear(0)
        # Slicer's subject hierarchy plugin logic makes the scene's hierarchy node again when a close ends
        slicer.vtkMRMLSubjectHierarchyNode.ResolveSubjectHierarchy(slicer.mrmlScene)
    return slicer


ROOT = HERE.parents[1]
MODULE_DIRS = [ROOT / "GDSegment", ROOT / "GDRegister"]


def load(name: str):
    """A cleared scene and the GD module `name` (GDSegment or GDRegister) imported from its folder, as
    Slicer imports a scripted module."""
    import importlib
    install()
    for folder in MODULE_DIRS:
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
    return importlib.import_module(name)


def moduleWidget(name: str):
    """The GD module's widget as Slicer's module panel (qSlicerScriptedLoadableModuleWidget) makes it: the panel,
    with a layout and the scene, becomes the Python widget's parent, then the panel calls its setup(). Enter and
    leave the module with `widget.parent.enter()` / `.exit()`, as the user's choice of module does."""
    module = load(name)
    import qt
    import slicer
    from slicer.ScriptedLoadableModule import _ModuleWidgetParent
    panel = _ModuleWidgetParent()
    panel.setLayout(qt.QVBoxLayout())
    panel.setMRMLScene(slicer.mrmlScene)
    widget = getattr(module, f"{name}Widget")(panel)
    panel._moduleWidget = widget
    widget.setup()
    return widget
