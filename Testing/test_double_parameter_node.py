"""The double's slicer.parameterNodeWrapper and .ui loading behave as Slicer's (Base/Python/slicer/
parameterNodeWrapper/, checked against its sources): it refuses what Slicer refuses with the same exception,
stores values in the vtkMRMLScriptedModuleNode as Slicer does, and connectGui binds real Qt widgets loaded
from the modules' .ui files both ways, on a real MRML scene."""

import enum
import os
import pathlib
from typing import Annotated, Optional, Union

import pytest
import vtk

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import slicer_double  # noqa: E402
from slicer_double import qt_widgets  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture
def slicer():
    return slicer_double.install()


@pytest.fixture
def pnw(slicer):
    import slicer.parameterNodeWrapper as module
    return module


def parameterNode(slicer):
    return slicer.mrmlScene.AddNewNodeByClass("vtkMRMLScriptedModuleNode")


def storedParameters(node) -> dict:
    return {name: node.GetParameter(name) for name in node.GetParameterNames()}


class Shape(enum.Enum):
    round = 1
    square = 2


# ------------------------------------------------------------------ refusals


def test_a_union_of_node_classes_without_none_refuses_its_none_default(slicer, pnw):
    @pnw.parameterNodeWrapper
    class Parameters:
        outputTransform: Union[slicer.vtkMRMLLinearTransformNode, slicer.vtkMRMLGridTransformNode]

    # UnionSerializer finds no member serializer for NoneType when the wrapper writes the default
    with pytest.raises(TypeError, match=r"Unable to write value 'None' of type '<class 'NoneType'>'"):
        Parameters(parameterNode(slicer))


def test_a_union_with_none_and_a_bare_node_class_accept_none(slicer, pnw):
    @pnw.parameterNodeWrapper
    class Parameters:
        outputTransform: Union[slicer.vtkMRMLLinearTransformNode, slicer.vtkMRMLGridTransformNode, None]
        volume: slicer.vtkMRMLScalarVolumeNode

    node = parameterNode(slicer)
    p = Parameters(node)
    assert p.outputTransform is None and p.volume is None
    assert storedParameters(node) == {"outputTransform.2": "True", "volume": ""}  # the None member is index 2


def test_an_unsupported_type_is_refused_when_the_class_is_decorated(pnw):
    class Custom:
        pass

    with pytest.raises(Exception, match="Unable to create serializer for .* member custom") as raised:
        @pnw.parameterNodeWrapper
        class Parameters:
            custom: Custom
    assert type(raised.value) is Exception
    assert "Unable to create serializer for type" in str(raised.value.__cause__)


@pytest.mark.parametrize("name", ["allParameters", "default", "getValue", "setValue", "connectGui", "Modified"])
def test_reserved_names_are_refused(pnw, name):
    with pytest.raises(ValueError, match=f"Cannot use reserved name '{name}'"):
        pnw.parameterNodeWrapper(type("Parameters", (), {"__annotations__": {name: int}}))


def test_a_refused_value_leaves_the_stored_value_unchanged(slicer, pnw):
    @pnw.parameterNodeWrapper
    class Parameters:
        levels: Annotated[int, pnw.WithinRange(1, 6)] = 3
        metric: Annotated[str, pnw.Choice(["mse", "mi"])] = "mse"
        volume: slicer.vtkMRMLScalarVolumeNode

    node = parameterNode(slicer)
    p = Parameters(node)
    transform = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLLinearTransformNode")
    for name, value, error in [("levels", 7, ValueError), ("levels", None, ValueError), ("levels", "4", TypeError),
                               ("metric", "ncc", ValueError), ("volume", transform, TypeError)]:
        before = storedParameters(node)
        with pytest.raises(error):
            p.setValue(name, value)
        assert storedParameters(node) == before
    assert (p.levels, p.metric, p.volume) == (3, "mse", None)
    with pytest.raises(ValueError, match="Cannot find a param with the given name: nosuch"):
        p.getValue("nosuch")


def test_a_default_outside_its_validator_is_refused_when_wrapping(slicer, pnw):
    @pnw.parameterNodeWrapper
    class Parameters:
        levels: Annotated[int, pnw.WithinRange(1, 6)] = 0

    with pytest.raises(ValueError, match=r"within range \[1, 6\], is 0"):
        Parameters(parameterNode(slicer))


# ------------------------------------------------------------------ storage


def test_values_are_stored_as_slicer_stores_them(slicer, pnw):
    @pnw.parameterNodeWrapper
    class Parameters:
        count: int
        rate: float
        name: str
        flag: bool = True
        model: pathlib.Path
        shape: Shape
        maybe: Optional[int]
        sizes: list[int]
        volume: slicer.vtkMRMLScalarVolumeNode

    node = parameterNode(slicer)
    p = Parameters(node)
    assert storedParameters(node) == {"count": "0", "rate": "0", "name": "", "flag": "True", "model": ".",
                                      "shape": "round", "maybe.1": "True", "sizes.len": "0", "volume": ""}
    assert (p.rate, p.model, p.shape) == (0.0, pathlib.Path(), Shape.round)
    volume = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "a")
    p.flag, p.model, p.shape, p.maybe, p.volume = False, pathlib.Path("/m/x.pt"), Shape.square, 5, volume
    p.sizes.append(4)
    assert storedParameters(node) == {"count": "0", "rate": "0", "name": "", "flag": "False", "model": "/m/x.pt",
                                      "shape": "square", "maybe.0": "5", "sizes.len": "1", "sizes.0": "4",
                                      "volume": ""}
    assert node.GetNodeReferenceID("volume") == volume.GetID()
    slicer.mrmlScene.RemoveNode(volume)
    assert p.volume is None


def test_defaults_fill_only_missing_parameters_and_a_prefix_names_them(slicer, pnw):
    @pnw.parameterNodeWrapper
    class Parameters:
        levels: int = 3
        metric: str = "mse"

    node = parameterNode(slicer)
    node.SetParameter("levels", "5")
    assert (Parameters(node).levels, Parameters(node).metric) == (5, "mse")
    prefixed = parameterNode(slicer)
    Parameters(prefixed, prefix="reg_")
    assert storedParameters(prefixed) == {"reg_levels": "3", "reg_metric": "mse"}


def test_members_answer_as_slicers(slicer, pnw):
    withinRange = pnw.WithinRange(1, 6)

    @pnw.parameterNodeWrapper
    class Parameters:
        levels: Annotated[int, withinRange] = 3
        sizes: list[int]

    p = Parameters(parameterNode(slicer))
    info = p.allParameters["levels"]
    assert (info.basename, info.default, info.unalteredType) == ("levels", pnw.Default(3),
                                                                  Annotated[int, withinRange])
    assert info.serializer.validators[-1] is withinRange
    assert Parameters.dataType("levels") == Annotated[int, withinRange]
    assert p.default("levels").value == 3 and p.isCached("levels") and p.isCached("sizes")
    assert pnw.isParameterNodeWrapper(p) and not pnw.isParameterNodeWrapper(object())
    events = []
    tag = p.AddObserver(vtk.vtkCommand.ModifiedEvent, lambda caller, event: events.append(event))
    wasModifying = p.StartModify()
    p.levels, p.levels = 4, 5
    assert events == []
    p.EndModify(wasModifying)
    assert len(events) == 1
    p.RemoveObserver(tag)


# ------------------------------------------------------------------ GUI


TRANSFORMS = ["rigid", "affine", "rigid,affine", "rigid,affine,bspline", "affine,dense", "translation",
              "similarity", "bspline", "dense"]


@pytest.fixture
def register(slicer, pnw):
    """GDRegister.ui loaded as Slicer loads it, on a scene with two volumes, and its parameters."""
    @pnw.parameterNodeWrapper
    class Parameters:
        fixedVolume: slicer.vtkMRMLScalarVolumeNode
        movingVolume: slicer.vtkMRMLScalarVolumeNode
        fixedMask: slicer.vtkMRMLLabelMapVolumeNode
        movingMask: slicer.vtkMRMLLabelMapVolumeNode
        initialTransform: slicer.vtkMRMLLinearTransformNode
        initialize: Annotated[str, pnw.Choice(["centers", "moments", "none"])] = "centers"
        searchRotation: bool = False
        transform: Annotated[str, pnw.Choice(TRANSFORMS)] = "rigid"
        metric: Annotated[str, pnw.Choice(["mse", "ncc", "lncc", "mi"])] = "mse"
        optimizer: Annotated[str, pnw.Choice(["sgd", "adam", "gd"])] = "sgd"
        levels: Annotated[int, pnw.WithinRange(1, 6)] = 3
        iterations: Annotated[int, pnw.WithinRange(1, 10000)] = 200
        learningRate: Annotated[float, pnw.WithinRange(0.0, 100.0)] = 0.0
        device: Annotated[str, pnw.Choice(["auto", "cpu", "cuda"])] = "auto"
        outputType: Annotated[str, pnw.Choice(["auto", "linear", "bspline", "displacement"])] = "auto"
        outputTransform: Union[slicer.vtkMRMLLinearTransformNode, slicer.vtkMRMLBSplineTransformNode,
                               slicer.vtkMRMLGridTransformNode, None]
        outputVolume: slicer.vtkMRMLScalarVolumeNode
        showResult: bool = True

    volumes = [slicer.mrmlScene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", name) for name in ("a", "b")]
    root = qt_widgets.loadUI(ROOT / "GDRegister/Resources/UI/GDRegister.ui")
    ui = slicer.util.childWidgetVariables(root)
    root.setMRMLScene(slicer.mrmlScene)
    node = parameterNode(slicer)
    yield Parameters(node), ui, node, volumes
    root.setMRMLScene(None)  # the selectors stop observing the scene the next test reuses


def test_connect_gui_shows_the_parameters_in_the_widgets(register):
    p, ui, node, volumes = register
    p.connectGui(ui)
    assert [ui.transformComboBox.itemText(i) for i in range(ui.transformComboBox.count)] == TRANSFORMS
    assert (ui.levelsSpinBox.minimum, ui.levelsSpinBox.maximum, ui.levelsSpinBox.value) == (1, 6, 3)
    assert ui.showResultCheckBox.checked is True and ui.searchRotationCheckBox.checked is False
    assert ui.fixedVolumeSelector.currentNode() is None  # the parameter's None wins over the selector's pick
    assert ui.outputTransformSelector.nodeTypes == ["vtkMRMLLinearTransformNode", "vtkMRMLBSplineTransformNode",
                                                   "vtkMRMLGridTransformNode"]


def test_widget_changes_write_the_parameters(register):
    p, ui, node, (a, b) = register
    p.connectGui(ui)
    ui.levelsSpinBox.value = 5
    ui.metricComboBox.currentIndex = 3
    ui.learningRateSpinBox.value = 1.5
    ui.showResultCheckBox.checked = False
    ui.movingVolumeSelector.setCurrentNode(b)
    assert {k: node.GetParameter(k) for k in ("levels", "metric", "learningRate", "showResult")} == {
        "levels": "5", "metric": "mi", "learningRate": "1.5", "showResult": "False"}
    assert node.GetNodeReferenceID("movingVolume") == b.GetID() and p.movingVolume is b


def test_parameter_changes_update_the_widgets_until_disconnected(register):
    p, ui, node, (a, b) = register
    tag = p.connectGui(ui)
    p.levels, p.transform, p.fixedVolume = 2, "affine", a
    assert (ui.levelsSpinBox.value, ui.transformComboBox.currentText, ui.fixedVolumeSelector.currentNode()) == (
        2, "affine", a)
    p.disconnectGui(tag)
    p.levels = 4
    ui.iterationsSpinBox.value = 9
    assert (ui.levelsSpinBox.value, p.iterations) == (2, 200)


def test_selectors_follow_the_scene(slicer, register):
    p, ui, node, (a, b) = register
    p.connectGui(ui)
    p.fixedVolume = b
    slicer.mrmlScene.RemoveNode(b)  # the selector moves to the volume now in its place, the parameter follows
    assert ui.fixedVolumeSelector.currentNode() is a and p.fixedVolume is a
    mask = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode", "mask")
    assert ui.fixedMaskSelector.currentNode() is None  # None is enabled: a new node is not picked
    p.fixedMask = mask
    assert ui.fixedMaskSelector.currentNodeID == mask.GetID()


def test_connect_gui_refuses_a_widget_that_cannot_show_the_type(slicer, pnw, register):
    p, ui, node, volumes = register
    with pytest.raises(RuntimeError, match="Unable to create GUI connector"):
        p.connectParametersToGui({"showResult": ui.levelsSpinBox})

    @pnw.parameterNodeWrapper
    class Parameters:
        name: str

    with pytest.raises(RuntimeError, match="requires the Choice annotation"):
        Parameters(parameterNode(slicer)).connectParametersToGui({"name": ui.metricComboBox})


def test_loaded_widgets_follow_pythonqt_conventions(register):
    p, ui, node, volumes = register
    clicks = []
    assert ui.applyButton.connect("clicked(bool)", clicks.append)
    ui.applyButton.enabled = True
    ui.applyButton.toolTip = "Register"
    ui.applyButton.click()
    assert clicks == [False] and ui.applyButton.isEnabled() and ui.applyButton.toolTip == "Register"
    assert ui.levelsSpinBox.name == "levelsSpinBox"


def test_plain_pyside6_widgets_do_not(slicer):
    """Why the loader makes PythonQt-style widgets: PySide6's own ignore or refuse these calls."""
    from PySide6.QtWidgets import QPushButton
    button = QPushButton()
    with pytest.raises(TypeError):
        button.connect("clicked(bool)", print)
    button.enabled = False  # a Python attribute, not the Qt property
    assert button.isEnabled()
