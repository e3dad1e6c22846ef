"""The Slicer test double exposes only real Slicer 5.12 names (slicer_double/slicer_api.json, read from
Slicer's sources) and behaves as Slicer does where the GD modules depend on it."""
from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import pytest
import vtk

import slicer_double

API = json.loads((Path(slicer_double.__file__).parent / "slicer_api.json").read_text())
slicer = slicer_double.install()
from slicer.parameterNodeWrapper import Default, WithinRange, parameterNodeWrapper  # noqa: E402


def allowed_names(class_name: str) -> set[str]:
    """Methods, static methods and enum values of a class and all its bases in the API listing."""
    entry = API[class_name]
    names = set(entry.get("methods", [])) | set(entry.get("static_methods", []))
    for values in entry.get("enums", {}).values():
        names |= set(values)
    names |= public(vtk.vtkObject)  # real VTK (PyPI vtk 9.7 = Slicer's 9.6 fork for vtkObject), not invented
    for base in entry.get("bases", []):
        if base in API:
            names |= allowed_names(base)
    return names


def public(obj) -> set[str]:
    return {n for n in dir(obj) if not n.startswith("_")}


@pytest.mark.parametrize("name", sorted(slicer_double.MRML_CLASSES))
def test_every_mrml_name_of_the_double_exists_in_slicer(name):
    cls = slicer_double.MRML_CLASSES[name]
    assert name in API, f"{name} is not a Slicer class listed in api.json"
    unknown = public(cls) - allowed_names(name)
    assert not unknown, f"{name} exposes names Slicer does not have: {sorted(unknown)}"


def test_every_slicer_module_attribute_exists_in_slicer():
    listed = set(API["slicer (module attributes)"]) | set(API["mrml_classes_requested"]) | set(API["mrml_classes_extra"])
    listed |= {"vtkSegmentation", "vtkSegment"} | {k.split(".")[1] for k in API if k.startswith("slicer.")}
    unknown = {n for n in public(slicer) if n not in listed}
    assert not unknown, sorted(unknown)


def test_every_python_api_name_of_the_double_exists_in_slicer():
    util_names = set(API["slicer.util"]) | set(API["slicer.util (classes)"])
    assert public(slicer.util) - {"annotations"} <= util_names, sorted(public(slicer.util) - util_names)
    for cls_name, cls in vars(slicer.util).items():
        if isinstance(cls, type) and not cls_name.startswith("_") and cls.__module__ == slicer.util.__name__:
            methods = {n for n, _ in inspect.getmembers(cls, inspect.isfunction) if not n.startswith("_")}
            assert methods <= set(API["slicer.util (classes)"][cls_name]["methods"]), cls_name
    module_api = slicer.ScriptedLoadableModule
    for cls_name in public(module_api):
        assert cls_name in API, cls_name
        own = {n for n, v in vars(getattr(module_api, cls_name)).items() if not n.startswith("_") and callable(v)}
        assert own <= set(API[cls_name]["methods"]), (cls_name, own - set(API[cls_name]["methods"]))
    assert public(slicer.parameterNodeWrapper) <= set(API["slicer.parameterNodeWrapper"]["exports"])
    assert public(slicer.i18n) <= set(API["slicer.i18n"])
    import SampleData
    assert public(SampleData) <= set(API["SampleData (Modules/Scripted/SampleData/SampleData.py)"]["functions"])


def test_the_name_check_catches_an_invented_method():
    class vtkMRMLTableNode(slicer.vtkMRMLTableNode):
        def AddRowsFast(self):  # not a Slicer method
            pass

    assert "AddRowsFast" in public(vtkMRMLTableNode) - allowed_names("vtkMRMLTableNode")


def test_nodes_report_their_real_class_names_and_events():
    scene = slicer_double.install().mrmlScene
    added = []
    scene.AddObserver(scene.NodeAddedEvent, lambda caller, event: added.append(event))
    for name in ("vtkMRMLScalarVolumeNode", "vtkMRMLLabelMapVolumeNode", "vtkMRMLSegmentationNode",
                 "vtkMRMLLinearTransformNode", "vtkMRMLGridTransformNode", "vtkMRMLMarkupsROINode",
                 "vtkMRMLTableNode", "vtkMRMLPlotSeriesNode", "vtkMRMLPlotChartNode", "vtkMRMLScriptedModuleNode"):
        node = scene.AddNewNodeByClass(name)
        assert node.GetClassName() == name and node.IsA(name) and node.IsA("vtkMRMLNode")
        assert scene.GetNodeByID(node.GetID()) is node
    assert len(added) == 10
    assert scene.GetFirstNodeByClass("vtkMRMLVolumeNode").GetClassName() == "vtkMRMLScalarVolumeNode"
    modified = []
    node = scene.GetFirstNodeByClass("vtkMRMLTableNode")
    node.AddObserver(vtk.vtkCommand.ModifiedEvent, lambda caller, event: modified.append(1))
    was = node.StartModify()
    node.SetName("a"), node.SetName("b")
    node.EndModify(was)
    assert modified == [1]


def test_volume_arrays_are_kji_views_with_ijk_to_ras_geometry():
    slicer_double.install()
    array = np.arange(2 * 3 * 4, dtype=np.int16).reshape(2, 3, 4)
    ijk_to_ras = np.array([[0, 0, 3.0, 10], [-2.0, 0, 0, 20], [0, 1.5, 0, 30], [0, 0, 0, 1]])
    node = slicer.util.addVolumeFromArray(array, ijk_to_ras, "v")
    assert node.GetImageData().GetDimensions() == (4, 3, 2)
    view = slicer.util.arrayFromVolume(node)
    view[1, 2, 3] = -7
    assert node.GetImageData().GetScalarComponentAsDouble(3, 2, 1, 0) == -7  # a view, not a copy
    m = vtk.vtkMatrix4x4()
    node.GetIJKToRASMatrix(m)
    assert np.allclose(slicer.util.arrayFromVTKMatrix(m), ijk_to_ras)
    assert np.allclose(node.GetSpacing(), (2, 1.5, 3)) and np.allclose(node.GetOrigin(), (10, 20, 30))
    with pytest.raises(RuntimeError, match="int64"):
        slicer.util.updateVolumeFromArray(node, array.astype(np.int64))


def test_parameter_node_wrapper_stores_strings_and_node_references():
    slicer_double.install()
    from slicer.parameterNodeWrapper import Default, WithinRange, parameterNodeWrapper

    @parameterNodeWrapper
    class Params:
        volume: Optional[slicer.vtkMRMLScalarVolumeNode]
        levels: Annotated[int, WithinRange(1, 6)] = 3
        rate: float = 0.5
        flag: Annotated[bool, Default(True)]
        name: str = "x"

    raw = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLScriptedModuleNode")
    p = Params(raw)
    assert (p.volume, p.levels, p.rate, p.flag, p.name) == (None, 3, 0.5, True, "x")
    assert raw.GetParameter("flag") == "True" and raw.GetParameter("levels") == "3"
    vol = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLScalarVolumeNode")
    p.volume = vol
    assert raw.GetNodeReferenceID("volume") == vol.GetID() and p.volume is vol
    with pytest.raises(ValueError):
        p.levels = 9
    assert p.levels == 3
