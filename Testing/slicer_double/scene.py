"""A real MRML scene set up as Slicer's application sets it up (qSlicerCoreApplication and the core
modules' setup): the application logic, the colour logic with its default colour nodes, and the module
logics the GD modules reach through `slicer.modules.<name>.logic()`, each registered on the scene and on the
application logic. Colour files, terminologies and views need Slicer's installed share folder, which
slicer-core does not ship: the built-in colour tables are there, the file-based ones are not."""
from __future__ import annotations

import atexit
import shutil
import tempfile
import types
from pathlib import Path

import slicer

SHARE = "share/Slicer"
# slicer.modules.<name> -> (module name given to the application logic, logic class)
MODULE_LOGICS = {
    "volumes": ("Volumes", slicer.vtkSlicerVolumesLogic),
    "segmentations": ("Segmentations", slicer.vtkSlicerSegmentationsModuleLogic),
    "markups": ("Markups", slicer.vtkSlicerMarkupsLogic),
    "transforms": ("Transforms", slicer.vtkSlicerTransformLogic),
    "tables": ("Tables", slicer.vtkSlicerTablesLogic),
    "plots": ("Plots", slicer.vtkSlicerPlotsLogic),
    "subjecthierarchy": ("SubjectHierarchy", slicer.vtkSlicerSubjectHierarchyModuleLogic),
}


class Module:
    """qSlicerAbstractCoreModule as Python sees it: a name and the module's logic."""

    def __init__(self, name: str, logic) -> None:
        self.name = name
        self._logic = logic

    def logic(self):
        return self._logic


def create():
    """(scene, application logic, `slicer.modules` namespace, layout logic) wired as in Slicer."""
    scene = slicer.vtkMRMLScene()
    applicationLogic = slicer.vtkSlicerApplicationLogic()
    applicationLogic.SetHomeDirectory(_emptyHome())            # no share folder: no colour files to read
    applicationLogic.SetShareDirectory(SHARE)
    applicationLogic.SetMRMLScene(scene)                       # selection and interaction nodes
    colors = slicer.vtkSlicerColorLogic()
    colors.SetMRMLApplicationLogic(applicationLogic)
    colors.SetMRMLScene(scene)                                 # the default colour nodes
    applicationLogic.SetColorLogic(colors)
    applicationLogic.SetModuleLogic("Colors", colors)
    modules = types.SimpleNamespace(colors=Module("Colors", colors))
    for attribute, (name, cls) in MODULE_LOGICS.items():
        logic = cls()
        logic.SetMRMLApplicationLogic(applicationLogic)
        logic.SetMRMLScene(scene)
        applicationLogic.SetModuleLogic(name, logic)
        setattr(modules, attribute, Module(name, logic))
    layouts = slicer.vtkMRMLLayoutLogic()  # the MRML side of the main window's layout manager: layout and views
    layouts.SetMRMLApplicationLogic(applicationLogic)
    layouts.SetMRMLScene(scene)
    layouts.GetLayoutNode().SetViewArrangement(slicer.vtkMRMLLayoutNode.SlicerLayoutFourUpView)
    return scene, applicationLogic, modules, layouts


def _emptyHome() -> str:
    """A Slicer home folder whose share folder has no colour files (slicer-core ships none)."""
    home = Path(tempfile.mkdtemp(prefix="SlicerHome-"))
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    (home / SHARE / "ColorFiles").mkdir(parents=True)
    return str(home)
