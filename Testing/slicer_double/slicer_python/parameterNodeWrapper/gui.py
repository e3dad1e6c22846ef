"""GUI connectors: which widget class shows which parameter type, as Slicer's
parameterNodeWrapper/guiConnectors.py decides it. Slicer matches the widget's EXACT class (type(widget) in
(...)), so a subclass is refused; here the exact class is named, which also matches the PythonQt-style classes
and CTK/qMRML stand-ins of slicer_double.qt_widgets (named as the classes they stand for). Widgets are read and
written through Qt properties (property/setProperty), which works for plain PySide6 widgets and for those."""
from __future__ import annotations

import abc
import dataclasses
import enum
import inspect
import logging
import types
import typing

from . import validators
from .serializers import PATH_TYPES
from .util import findFirstAnnotation, getNodeTypes, isNodeOrUnionOfNodes, splitAnnotations, unannotatedType

__all__ = ["createGuiConnector", "parameterNodeGuiConnector", "GuiConnector", "Decimals", "SingleStep"]


@dataclasses.dataclass
class Decimals:
    """Annotation: the decimals of a spin box or slider."""
    value: int


@dataclasses.dataclass
class SingleStep:
    """Annotation: the single step of a spin box or slider."""
    value: float | int


def _className(widget) -> str:
    return type(widget).__name__


class GuiConnector(abc.ABC):
    """Adapts one widget to one parameter type: read, write, and a change callback."""

    @staticmethod
    @abc.abstractmethod
    def canRepresent(widget, datatype) -> bool: ...

    @staticmethod
    @abc.abstractmethod
    def create(widget, datatype): ...

    def __init__(self) -> None:
        self._callback = None

    def onChanged(self, callback) -> None:
        """Set the callback (None disconnects from the widget's signal)."""
        self._callback = callback
        if callback is None:
            self._disconnect()
        else:
            self._connect()

    def changed(self) -> None:
        if self._callback:
            self._callback()

    def _connect(self) -> None:
        self._signal().connect(self.changed)

    def _disconnect(self) -> None:
        self._signal().disconnect(self.changed)

    @abc.abstractmethod
    def _signal(self):
        """The widget's signal that means "the value changed"."""

    @abc.abstractmethod
    def widget(self): ...

    @abc.abstractmethod
    def read(self): ...

    @abc.abstractmethod
    def write(self, value) -> None: ...


_registeredGuiConnectors: list[type[GuiConnector]] = []


def parameterNodeGuiConnector(classtype=None):
    """Class decorator (with or without parentheses) registering a GuiConnector; first registered, first asked."""
    def wrap(cls):
        if not issubclass(cls, GuiConnector):
            raise TypeError("Must be a GuiConnector subclass")
        _registeredGuiConnectors.append(cls)
        return cls
    return wrap if classtype is None else wrap(classtype)


def createGuiConnector(widget, datatype) -> GuiConnector:
    """The first registered connector that can represent `datatype` (possibly Annotated) with `widget`."""
    if isinstance(datatype, types.UnionType):
        datatype = typing.Union[typing.get_args(datatype)]
    for connectorType in _registeredGuiConnectors:
        if connectorType.canRepresent(widget, datatype):
            return connectorType.create(widget, datatype)
    files = ", ".join(sorted({inspect.getfile(c) for c in _registeredGuiConnectors}))
    raise RuntimeError(f"Unable to create GUI connector from datatype '{datatype}' to widget type '{type(widget)}'."
                       " To determine which data types can be connected to which widget types, please check "
                       f"'canRepresent' methods in 'GuiConnector' classes in these files: {files}")


class _SimpleConnector(GuiConnector):
    """A connector defined by a table: widget classes, value types, change signal and value property."""
    widgetClasses: tuple[str, ...]
    valueTypes: tuple
    signalName: str
    propertyName: str

    @classmethod
    def canRepresent(cls, widget, datatype) -> bool:
        return _className(widget) in cls.widgetClasses and unannotatedType(datatype) in cls.valueTypes

    @classmethod
    def create(cls, widget, datatype):
        return cls(widget, datatype) if cls.canRepresent(widget, datatype) else None

    def __init__(self, widget, datatype) -> None:
        super().__init__()
        self._widget, self._type = widget, unannotatedType(datatype)

    def _signal(self):
        return getattr(self._widget, self.signalName)

    def widget(self):
        return self._widget

    def read(self):
        return self._type(self._widget.property(self.propertyName))

    def write(self, value) -> None:
        self._widget.setProperty(self.propertyName, value)


@parameterNodeGuiConnector
class QCheckBoxToBoolConnector(_SimpleConnector):
    widgetClasses, valueTypes = ("QCheckBox", "ctkCheckBox"), (bool,)
    signalName, propertyName = "stateChanged", "checked"


@parameterNodeGuiConnector
class QCheckablePushButtonToBoolConnector(_SimpleConnector):
    """A QPushButton for a bool is made checkable, with a warning."""
    widgetClasses, valueTypes, signalName, propertyName = ("QPushButton",), (bool,), "toggled", "checked"

    def __init__(self, widget, datatype) -> None:
        super().__init__(widget, datatype)
        if not widget.property("checkable"):
            logging.warning(f"Making push button checkable for conversion to bool: button {widget}")
            widget.setProperty("checkable", True)


def _setBounds(widget, annotations, unboundedMinimum, unboundedMaximum, unboundedError: str | None) -> None:
    """Range from WithinRange, else Minimum/Maximum, else the unbounded limits (or RuntimeError(unboundedError)
    for sliders): what the .ui says is replaced. Decimals/SingleStep annotations are applied too."""
    for annotation, propertyName in ((Decimals, "decimals"), (SingleStep, "singleStep")):
        found = findFirstAnnotation(annotations, annotation)
        if found is not None:
            widget.setProperty(propertyName, found.value)
    withinRange = findFirstAnnotation(annotations, validators.WithinRange)
    minimum = findFirstAnnotation(annotations, validators.Minimum)
    maximum = findFirstAnnotation(annotations, validators.Maximum)
    if unboundedError and withinRange is None and (minimum is None or maximum is None):
        raise RuntimeError(unboundedError)
    if withinRange is not None:
        minimum, maximum = withinRange.minimum, withinRange.maximum
    else:
        minimum = minimum.minimum if minimum is not None else unboundedMinimum
        maximum = maximum.maximum if maximum is not None else unboundedMaximum
    widget.setProperty("minimum", minimum)
    widget.setProperty("maximum", maximum)


@parameterNodeGuiConnector
class QSliderOrSpinBoxToIntConnector(_SimpleConnector):
    widgetClasses, valueTypes, signalName, propertyName = ("QSlider", "QSpinBox"), (int,), "valueChanged", "value"

    def __init__(self, widget, datatype) -> None:
        super().__init__(widget, datatype)
        slider = _className(widget) == "QSlider"
        _setBounds(widget, splitAnnotations(datatype)[1], -(2**31), 2**31 - 1,
                   "Cannot have a connection to QSlider where the int type is unbounded." if slider else None)


@parameterNodeGuiConnector
class QDoubleSpinBoxCtkSliderWidgetToFloatIntConnector(_SimpleConnector):
    """Floats, and ints (decimals 0) on the double-valued widgets."""
    widgetClasses = ("QDoubleSpinBox", "ctkSliderWidget", "qMRMLSliderWidget", "ctkDoubleSlider", "ctkDoubleSpinBox",
                     "qMRMLSpinBox")
    valueTypes, signalName, propertyName = (float, int), "valueChanged", "value"

    def __init__(self, widget, datatype) -> None:
        super().__init__(widget, datatype)
        annotations = splitAnnotations(datatype)[1]
        if self._type is int and _className(widget) != "ctkDoubleSlider":
            widget.setProperty("decimals", 0)
            annotations = [a for a in annotations if not isinstance(a, Decimals)]
        slider = _className(widget) in ("ctkSliderWidget", "qMRMLSliderWidget")
        _setBounds(widget, annotations, float("-inf"), float("inf"), "Cannot have a connection to ctkSliderWidget "
                   "where the float types is unbounded." if slider else None)


class _ComboBoxConnector(_SimpleConnector):
    """Items are (label, value) pairs, replacing the .ui's items; the value is chosen by index."""
    widgetClasses, signalName, propertyName = ("QComboBox", "ctkComboBox"), "currentIndexChanged", "currentIndex"

    def _fill(self, items: list[tuple[str, typing.Any]]) -> None:
        self._items = items
        self._widget.clear()
        for label, _ in items:
            self._widget.addItem(label)

    def read(self):
        return self._items[self._widget.property("currentIndex")][1]  # -1 reads the last, as in Slicer

    def write(self, value) -> None:
        index = next((i for i, (_, item) in enumerate(self._items) if item == value), None)
        if index is None:
            raise ValueError(f"Unable to find value {value} in choices {[item for _, item in self._items]}")
        self._widget.setProperty("currentIndex", index)


@parameterNodeGuiConnector
class QComboBoxToStringableConnector(_ComboBoxConnector):
    """int/float/str/bool from a Choice annotation, shown as str(choice); no Choice is an error."""
    valueTypes = (int, float, str, bool)

    def __init__(self, widget, datatype) -> None:
        super().__init__(widget, datatype)
        choice = findFirstAnnotation(splitAnnotations(datatype)[1], validators.Choice)
        if choice is None:
            raise RuntimeError("ComboBoxToStringableConnector requires the Choice annotation to be used.")
        self._fill([(str(c), c) for c in choice.choices])


@parameterNodeGuiConnector
class QComboBoxToEnumConnector(_ComboBoxConnector):
    """Enum members, labelled by the enum's `label(member)` if it has one, else by name; keeps the selection."""

    @classmethod
    def canRepresent(cls, widget, datatype) -> bool:
        # issubclass raises TypeError for a non-class type (a Union) on a combobox, as in Slicer
        return _className(widget) in cls.widgetClasses and issubclass(unannotatedType(datatype), enum.Enum)

    def __init__(self, widget, datatype) -> None:
        super().__init__(widget, datatype)
        label = getattr(self._type, "label", lambda member: member.name)
        self._items = [(label(member), member) for member in self._type]
        selected = self.read()
        self._fill(self._items)
        self.write(selected)


@parameterNodeGuiConnector
class QLineEditToStrConnector(_SimpleConnector):
    widgetClasses, valueTypes, signalName, propertyName = ("QLineEdit",), (str,), "textChanged", "text"

    def write(self, value) -> None:
        if value != self._widget.property("text"):  # setting the same text would move the cursor to the end
            super().write(value)


@parameterNodeGuiConnector
class QLabelToStrConnector(_SimpleConnector):
    """Shows the value; a label has no change signal."""
    widgetClasses, valueTypes, propertyName = ("QLabel",), (str,), "text"

    def _connect(self) -> None:
        pass

    def _disconnect(self) -> None:
        pass


@parameterNodeGuiConnector
class QTextEditPlainTextToStrConnector(_SimpleConnector):
    widgetClasses, valueTypes, signalName, propertyName = ("QTextEdit",), (str,), "textChanged", "plainText"


@parameterNodeGuiConnector
class ctkPathLineEditToPathConnector(_SimpleConnector):
    widgetClasses, valueTypes = ("ctkPathLineEdit",), PATH_TYPES
    signalName, propertyName = "currentPathChanged", "currentPath"

    def write(self, value) -> None:
        super().write(str(value))


@parameterNodeGuiConnector
class qMRMLNodeComboBoxToNodeConnector(_SimpleConnector):
    """A node class or Union of node classes; the combobox's nodeTypes are set from the annotation."""
    widgetClasses, signalName = ("qMRMLNodeComboBox",), "currentNodeChanged"

    @classmethod
    def canRepresent(cls, widget, datatype) -> bool:
        return _className(widget) in cls.widgetClasses and isNodeOrUnionOfNodes(datatype)

    def __init__(self, widget, datatype) -> None:
        super().__init__(widget, datatype)
        widget.nodeTypes = getNodeTypes(datatype)

    def read(self):
        return self._widget.currentNode()

    def write(self, value) -> None:
        self._widget.setCurrentNode(value)
