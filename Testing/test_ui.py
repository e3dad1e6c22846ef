"""The Designer files with real Qt (PySide6, offscreen): they load, every self.ui.<name> the widget code uses
exists, every SlicerParameterName is a parameter-node field whose type and range fit the widget, and the
panel previews render."""
from __future__ import annotations

import ast
import typing
from pathlib import Path

import pytest

from slicer_double import ROOT, load, uipreview
from slicer_double.qt_widgets import loadUI

load("GDRegister")
from slicer.parameterNodeWrapper import getNodeTypes, isNodeOrUnionOfNodes, unannotatedType  # noqa: E402

MODULES = ["GDRegister", "GDSegment"]
SOURCES = {"GDRegister": [ROOT / "GDRegister/GDRegister.py"], "GDSegment": [ROOT / "GDSegment/GDSegment.py"]}


def ui_path(name: str) -> Path:
    return ROOT / name / "Resources" / "UI" / f"{name}.ui"


def named_widgets(widget) -> dict:
    from PySide6.QtWidgets import QWidget
    return {w.property("objectName"): w for w in widget.findChildren(QWidget) if w.property("objectName")}


def bound_widgets(widget) -> dict:
    """SlicerParameterName -> widget (the dynamic property Designer writes)."""
    from PySide6.QtWidgets import QWidget
    return {w.property("SlicerParameterName"): w for w in widget.findChildren(QWidget)
            if w.property("SlicerParameterName")}


def ui_names_used(source: Path) -> set[str]:
    """Every X in self.ui.X of a module's code."""
    names = set()
    for node in ast.walk(ast.parse(source.read_text())):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute) and node.value.attr == "ui"
                and isinstance(node.value.value, ast.Name) and node.value.value.id == "self"):
            names.add(node.attr)
    return names


@pytest.mark.parametrize("name", MODULES)
def test_every_ui_file_loads_and_has_the_widgets_the_code_uses(name):
    widget = loadUI(ui_path(name))
    assert widget is not None and widget.property("objectName") == name
    present = named_widgets(widget)
    used = set().union(*(ui_names_used(s) for s in SOURCES[name]))
    assert used, "the ast scan found no self.ui.<name>: the test would not catch anything"
    missing = used - set(present)
    assert not missing, f"{name}.py uses self.ui.{sorted(missing)} which {name}.ui does not define"


@pytest.mark.parametrize("name", MODULES)
def test_every_bound_widget_names_a_parameter_of_the_right_type(name):
    from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QSpinBox
    module = load(name)
    parameters = getattr(module, f"{name}Logic")().getParameterNode().allParameters
    top = loadUI(ui_path(name))  # keeps the children alive
    bound = bound_widgets(top)
    assert set(bound) - set(parameters) == set(), "SlicerParameterName without a parameter-node field"
    unbound = {p for p in parameters if p not in bound}
    assert not unbound, f"parameters with no widget: {sorted(unbound)}"
    for param, widget in bound.items():
        info = parameters[param]
        validators = info.serializer.validators
        choices = next((v.choices for v in validators if hasattr(v, "choices")), None)
        limits = next(((v.minimum, v.maximum) for v in validators if hasattr(v, "maximum")), None)
        datatype = unannotatedType(info.unalteredType)
        cls = widget.metaObject().className()
        if isNodeOrUnionOfNodes(info.unalteredType):
            assert cls == "qMRMLNodeComboBox"  # its nodeTypes are checked below
        elif isinstance(widget, QComboBox):  # Slicer refills it from the Choice: the Designer items must agree
            assert datatype is str and choices is not None
            assert [widget.itemText(i) for i in range(widget.count)] == list(choices), param
        elif isinstance(widget, (QSpinBox, QDoubleSpinBox)):  # Slicer sets the range from the validator
            assert datatype is (int if isinstance(widget, QSpinBox) else float), param
            assert limits == (widget.minimum, widget.maximum), param
        elif isinstance(widget, QCheckBox):
            assert datatype is bool, param
        else:
            assert datatype is Path, (param, cls)


@pytest.mark.parametrize("name", MODULES)
def test_node_selectors_offer_the_parameter_node_classes(name):
    import xml.etree.ElementTree as ET
    module = load(name)
    parameters = getattr(module, f"{name}Logic")().getParameterNode().allParameters
    for widget in ET.parse(ui_path(name)).iter("widget"):
        if widget.get("class") != "qMRMLNodeComboBox":
            continue
        param = widget.find("./property[@name='SlicerParameterName']/string").text
        types = [s.text for s in widget.findall("./property[@name='nodeTypes']/stringlist/string")]
        assert types == list(getNodeTypes(parameters[param].unalteredType)), param


@pytest.mark.parametrize("name", MODULES)
def test_parameter_defaults_are_within_their_validators(name):
    module = load(name)
    p = getattr(module, f"{name}Logic")().getParameterNode()
    for param, info in p.allParameters.items():
        value = p.getValue(param)
        for validator in info.serializer.validators:
            validator.validate(value)
        datatype = unannotatedType(info.unalteredType)
        assert value is None or isinstance(value, typing.get_args(datatype) or datatype)


@pytest.mark.parametrize("name", MODULES)
def test_panel_preview_renders(tmp_path, name):
    from PySide6.QtGui import QImage
    png = uipreview.render(ui_path(name), tmp_path / f"{name}.png", uipreview.parameter_defaults(name))
    image = QImage(str(png))
    assert image.width() == 420 and image.height() > 400
    colours = {image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)}
    assert len(colours) > 20  # text, frames and the progress bar, not a blank window


def test_module_metadata_is_what_slicer_generic_tests_check():
    import types
    for name in MODULES:
        module = load(name)
        parent = types.SimpleNamespace(path=module.__file__)  # qSlicerScriptedLoadableModule: path of the .py
        getattr(module, name)(parent)
        assert parent.title.startswith("GD ") and parent.categories and parent.contributors
        assert parent.helpText and parent.acknowledgementText
        import slicer
        assert name in slicer.selfTests
        test = getattr(module, f"{name}Test")
        assert [m for m in dir(test) if m.startswith("test_")], "ctest runs each test_* method"
