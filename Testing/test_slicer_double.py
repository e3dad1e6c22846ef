"""The Slicer-side tests run on real Slicer Core (PyPI slicer-core); slicer_double/ adds what Slicer's application
adds. This checks that the double names only what Slicer has (slicer_double/slicer_api.json, read from Slicer's
sources), that the scene is set up as Slicer's application sets it up, and the real slicer.util behaviours the GD
modules are written around."""
from __future__ import annotations

import importlib
import inspect
import json
import logging
import pkgutil
import types
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtWidgets import QApplication

import slicer_double
from slicer_double import application

API = json.loads((Path(slicer_double.__file__).parent / "slicer_api.json").read_text())
APP_API = API["slicer.app (qSlicerApplication : qSlicerCoreApplication : QApplication)"]
slicer = slicer_double.install()


def public(obj) -> set[str]:
    return {name for name in dir(obj) if not name.startswith("_")}


def defined(module: types.ModuleType) -> dict[str, object]:
    """The public functions and classes `module` defines itself (not what it imports: os, re, qt...)."""
    return {name: value for name, value in vars(module).items()
            if not name.startswith("_") and (inspect.isfunction(value) or inspect.isclass(value))
            and value.__module__ == module.__name__}


def own_members(cls) -> set[str]:
    """Public methods, static methods and properties a class defines itself."""
    return {name for name in vars(cls) if not name.startswith("_")}


def unknown_app_names(app) -> set[str]:
    """Public names of slicer.app that are neither qSlicerApplication / qSlicerCoreApplication members (properties,
    invokables, slots, signals, Python decorators) nor QApplication's."""
    allowed = set(dir(QApplication)) | set(APP_API["python_decorators"])
    for part in ("qSlicerCoreApplication", "qSlicerApplication"):
        for names in APP_API[part].values():
            allowed |= set(names)
    return public(app) - allowed


def unknown_module_names(module: types.ModuleType, listed) -> set[str]:
    return set(defined(module)) - set(listed)


# ------------------------------------------------------------------ names: only Slicer's
def test_slicer_app_names_are_qSlicerApplication_members():
    assert not unknown_app_names(slicer.app), sorted(unknown_app_names(slicer.app))
    assert not unknown_app_names(application.Application), sorted(unknown_app_names(application.Application))
    options = APP_API["commandOptions() properties (qSlicerCommandOptions : qSlicerCoreCommandOptions)"]
    assert public(slicer.app.commandOptions()) <= set(options)


def test_scripted_loadable_module_names_are_slicers():
    import slicer.ScriptedLoadableModule as module
    for name, cls in defined(module).items():
        assert name.startswith("ScriptedLoadableModule") and name in API, name
        unknown = own_members(cls) - set(API[name]["methods"])
        assert not unknown, (name, sorted(unknown))


def test_i18n_and_packaging_names_are_slicers():
    import slicer.i18n
    import slicer.packaging
    assert not unknown_module_names(slicer.i18n, API["slicer.i18n"])
    assert not unknown_module_names(slicer.packaging, API["slicer.packaging"])


def test_parameter_node_wrapper_names_are_slicers():
    import slicer.parameterNodeWrapper as package
    from slicer.parameterNodeWrapper import parameterNodeWrapper
    exports = set(API["slicer.parameterNodeWrapper"]["exports"])
    exposed = {name for name, value in vars(package).items() if not name.startswith("_")
               and (inspect.isfunction(value) or inspect.isclass(value))
               and value.__module__.startswith(package.__name__)}
    assert exposed <= exports, sorted(exposed - exports)
    for info in pkgutil.iter_modules(package.__path__):
        submodule = importlib.import_module(f"{package.__name__}.{info.name}")
        assert set(getattr(submodule, "__all__", [])) <= exports, (info.name, sorted(set(submodule.__all__) - exports))

    @parameterNodeWrapper
    class Parameters:
        field: int = 1

    members = set(API["slicer.parameterNodeWrapper"]["wrapper_class_members"])
    assert public(Parameters) - {"field"} <= members, sorted(public(Parameters) - {"field"} - members)


def test_sample_data_and_pytorch_utils_names_are_slicers():
    import PyTorchUtils
    import SampleData
    sample_data = API["SampleData (Modules/Scripted/SampleData/SampleData.py)"]["functions"]
    assert not unknown_module_names(SampleData, {name for name in sample_data if "." not in name})
    for name, cls in defined(SampleData).items():  # SampleDataLogic, should the double define it
        assert own_members(cls) <= {n.split(".")[1] for n in sample_data if n.startswith(name + ".")}, name
    torch_utils = API["PyTorchUtils (extension PyTorch, fepegar/SlicerPyTorch PyTorchUtils/PyTorchUtils.py)"]
    assert set(defined(PyTorchUtils)) <= {name for name in torch_utils if name != "source_commit"}
    assert own_members(PyTorchUtils.PyTorchUtilsLogic) <= set(torch_utils["PyTorchUtilsLogic"])


def test_the_name_checks_catch_invented_names():
    class InventedApplication(application.Application):
        def showMainWindow(self):  # not a qSlicerApplication member
            pass

    assert unknown_app_names(InventedApplication) == {"showMainWindow"}
    module = types.ModuleType("slicer.packaging")
    exec("import os\nfrom logging import getLogger\ndef pip_check(req): pass\ndef pip_install_all(): pass",
         vars(module))
    assert unknown_module_names(module, API["slicer.packaging"]) == {"pip_install_all"}  # not os, getLogger


# ------------------------------------------------------------------ the scene, as Slicer's application sets it up
@pytest.mark.parametrize("name, module_name, class_name", [
    ("volumes", "Volumes", "vtkSlicerVolumesLogic"),
    ("segmentations", "Segmentations", "vtkSlicerSegmentationsModuleLogic"),
    ("markups", "Markups", "vtkSlicerMarkupsLogic"),
    ("transforms", "Transforms", "vtkSlicerTransformLogic"),
    ("tables", "Tables", "vtkSlicerTablesLogic"),
    ("plots", "Plots", "vtkSlicerPlotsLogic"),
    ("subjecthierarchy", "SubjectHierarchy", "vtkSlicerSubjectHierarchyModuleLogic"),
    ("colors", "Colors", "vtkSlicerColorLogic"),
])
def test_module_logics_are_slicers_registered_on_the_application_logic(name, module_name, class_name):
    logic = getattr(slicer.modules, name).logic()
    assert isinstance(logic, getattr(slicer, class_name)) and logic.GetClassName() == class_name
    assert slicer.app.applicationLogic().GetModuleLogic(module_name) is logic
    assert logic.GetMRMLScene() is slicer.mrmlScene is slicer.app.mrmlScene()


def test_scene_has_the_applications_singletons():
    scene = slicer_double.install().mrmlScene
    assert slicer.app.applicationLogic().GetModuleLogic("Segmentations") is slicer.modules.segmentations.logic()
    for colour in ("vtkMRMLColorTableNodeGrey", "vtkMRMLColorTableNodeLabels"):
        assert scene.GetNodeByID(colour).GetClassName() == "vtkMRMLColorTableNode"
    assert slicer.modules.colors.logic().GetDefaultVolumeColorNodeID() == "vtkMRMLColorTableNodeGrey"
    logic = slicer.app.applicationLogic()
    assert scene.GetFirstNodeByClass("vtkMRMLSelectionNode") is logic.GetSelectionNode() is not None
    assert scene.GetFirstNodeByClass("vtkMRMLInteractionNode") is logic.GetInteractionNode() is not None
    assert scene.GetFirstNodeByClass("vtkMRMLLayoutNode") is not None
    assert scene.GetSubjectHierarchyNode().GetClassName() == "vtkMRMLSubjectHierarchyNode"


def test_a_cleared_scene_has_its_subject_hierarchy_node():
    scene = slicer_double.install().mrmlScene
    assert scene.GetNumberOfNodesByClass("vtkMRMLSubjectHierarchyNode") == 1


def test_install_again_clears_user_nodes_but_keeps_the_singletons():
    scene = slicer_double.install().mrmlScene
    nodes = [scene.GetNthNode(i) for i in range(scene.GetNumberOfNodes())]
    singletons = {node.GetID(): node for node in nodes if node.GetSingletonTag()}
    app, segmentations = slicer.app, slicer.modules.segmentations.logic()
    volume = slicer.util.addVolumeFromArray(np.zeros((2, 3, 4), np.int16), name="user")
    table = scene.AddNewNodeByClass("vtkMRMLTableNode")
    ids = [volume.GetID(), volume.GetDisplayNode().GetID(), table.GetID()]
    assert slicer_double.install() is slicer
    assert all(scene.GetNodeByID(node_id) is None for node_id in ids)
    assert {node_id: scene.GetNodeByID(node_id) for node_id in singletons} == singletons
    assert slicer.mrmlScene is scene and slicer.app is app and slicer.modules.segmentations.logic() is segmentations


def test_testing_mode_error_display_logs_and_shows_no_dialog(caplog, monkeypatch):
    assert slicer.app.testingEnabled() and slicer.app.commandOptions().testingEnabled
    monkeypatch.setattr(slicer.util, "messageBox", lambda *a, **k: pytest.fail("a dialog was shown"))
    with caplog.at_level(logging.INFO):
        slicer.util.errorDisplay("Segmentation failed")
    assert ("root", logging.ERROR, "Segmentation failed") in caplog.record_tuples


# ------------------------------------------------------------------ slicer.util, as the GD modules meet it
def test_update_volume_from_a_2d_array_gives_a_float64_single_slice():
    """Why nodes.py passes a (1, rows, columns) array for a slice: a 2D one loses its voxel type."""
    node = slicer_double.install().mrmlScene.AddNewNodeByClass("vtkMRMLScalarVolumeNode")
    slicer.util.updateVolumeFromArray(node, np.arange(12, dtype=np.int16).reshape(3, 4))
    assert node.GetImageData().GetDimensions() == (4, 3, 1)
    assert slicer.util.arrayFromVolume(node).dtype == np.float64
    slicer.util.updateVolumeFromArray(node, np.arange(12, dtype=np.int16).reshape(1, 3, 4))
    assert slicer.util.arrayFromVolume(node).dtype == np.int16


def test_array_from_segment_binary_labelmap_leaves_a_display_node_per_call():
    """Why results.py exports segments itself inside scratchNodes() (which removes the label map with the display
    and colour nodes Slicer makes for it) rather than through this helper, whose clean-up misses the display node."""
    scene = slicer_double.install().mrmlScene
    reference = slicer.util.addVolumeFromArray(np.zeros((4, 5, 6), np.int16))
    segmentation = scene.AddNewNodeByClass("vtkMRMLSegmentationNode")
    segmentation.SetReferenceImageGeometryParameterFromVolumeNode(reference)
    segment = segmentation.GetSegmentation().AddEmptySegment("lesion")
    mask = np.zeros((4, 5, 6), np.uint8)
    mask[1:3, 1:3, 1:3] = 1
    slicer.util.updateSegmentBinaryLabelmapFromArray(mask, segmentation, segment, reference)
    displays = scene.GetNumberOfNodesByClass("vtkMRMLLabelMapVolumeDisplayNode")
    colours = scene.GetNumberOfNodesByClass("vtkMRMLColorTableNode")
    for call in range(1, 4):
        assert slicer.util.arrayFromSegmentBinaryLabelmap(segmentation, segment, reference).sum() == 8
        assert scene.GetNumberOfNodesByClass("vtkMRMLLabelMapVolumeDisplayNode") == displays + call
    assert scene.GetNumberOfNodesByClass("vtkMRMLLabelMapVolumeNode") == 0
    assert scene.GetNumberOfNodesByClass("vtkMRMLColorTableNode") == colours


def test_plot_shown_changes_the_layout_to_one_with_a_chart():
    """Why charts.py shows a loss chart once per run, then redraws it with show=False: showing it on every
    update would switch back a layout the user changed meanwhile."""
    scene = slicer_double.install().mrmlScene
    layout = scene.GetFirstNodeByClass("vtkMRMLLayoutNode")
    layout.SetViewArrangement(slicer.vtkMRMLLayoutNode.SlicerLayoutFourUpView)
    data = np.array([[0, 1.0], [1, 3.0], [2, 2.0]])
    slicer.util.plot(data, 0, show=False)
    assert layout.GetViewArrangement() == slicer.vtkMRMLLayoutNode.SlicerLayoutFourUpView
    chart = slicer.util.plot(data, 0, show=True)
    assert layout.GetViewArrangement() == slicer.vtkMRMLLayoutNode.SlicerLayoutFourUpPlotView
    assert slicer.app.applicationLogic().GetSelectionNode().GetActivePlotChartID() == chart.GetID()
