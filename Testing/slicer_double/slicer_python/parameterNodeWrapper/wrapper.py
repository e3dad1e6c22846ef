"""@parameterNodeWrapper, as Slicer's parameterNodeWrapper/wrapper.py (and parameterInfo.py) behaves: the
class itself gets typed properties over a vtkMRMLScriptedModuleNode, the wrapper members, and GUI binding."""
from __future__ import annotations

import dataclasses
import logging
import types
import typing
import weakref

import slicer
import vtk

from .gui import GuiConnector, createGuiConnector
from .serializers import Serializer, createSerializer
from .util import splitAnnotations, splitPossiblyDottedName, unannotatedType
from .validators import Default, extractDefault

__all__ = ["parameterNodeWrapper", "SlicerParameterNamePropertyName", "findChildWidgetForParameter",
           "isParameterNodeWrapper"]

SlicerParameterNamePropertyName = "SlicerParameterName"


@dataclasses.dataclass
class ParameterInfo:
    """What allParameters holds for each field (Slicer's field names)."""
    basename: str
    serializer: Serializer
    default: Default
    unalteredType: typing.Any


class _BoundParameter:
    """One field of one wrapper: its parameter name (prefix + field name) in the wrapped node."""

    def __init__(self, info: ParameterInfo, parameterNode, prefix: str | None) -> None:
        self.info, self.parameterNode = info, parameterNode
        self.name = f"{prefix or ''}{info.basename}"

    def isIn(self) -> bool:
        return self.info.serializer.isIn(self.parameterNode, self.name)

    def writeDefault(self) -> None:
        self.write(self.info.default.value)

    def read(self):
        if not self.isIn():  # removed behind the wrapper's back: the default comes back
            self.writeDefault()
        return self.info.serializer.read(self.parameterNode, self.name)

    def write(self, value) -> None:
        self.info.serializer.write(self.parameterNode, self.name, value)


class _CachedParameter(_BoundParameter):
    """A field whose serializer supports caching: the value is kept and re-read on every ModifiedEvent of the
    node (so between StartModify and EndModify a raw SetParameter is not seen yet, as in Slicer)."""

    def __init__(self, info: ParameterInfo, parameterNode, prefix: str | None) -> None:
        super().__init__(info, parameterNode, prefix)
        self._writing = False
        self._value = super().read()
        selfRef = weakref.ref(self)  # the observer must not keep the wrapper alive
        self._tag = parameterNode.AddObserver(vtk.vtkCommand.ModifiedEvent, lambda caller, event: selfRef()._reread())

    def __del__(self) -> None:
        self.parameterNode.RemoveObserver(self._tag)

    def _reread(self) -> None:
        if not self._writing:
            self._value = super().read()

    def read(self):
        return self._value

    def write(self, value) -> None:
        self._writing = True
        try:
            with slicer.util.NodeModify(self.parameterNode):  # the new value is kept before observers run
                super().write(value)
                self._value = super().read()
        finally:
            self._writing = False


def _checkParamName(wrapperOrClass, name: str) -> None:
    top, sub = splitPossiblyDottedName(name)
    if top not in wrapperOrClass.allParameters:
        found = "".join(f"\n    {n}," for n in wrapperOrClass.allParameters)
        raise ValueError(f"Cannot find a param with the given name: {top}\n  Found parameters [{found}\n  ]")
    if sub is not None:  # dotted names reach into parameterPacks, which this double does not have
        raise ValueError(f"{unannotatedType(wrapperOrClass.allParameters[top].unalteredType)} has no member "
                         f"'{splitPossiblyDottedName(sub)[0]}'")


def _init(self, parameterNode, prefix: str | None = None) -> None:
    """Writes the default of every parameter the node lacks (validated: a default the type refuses raises)."""
    self.parameterNode = parameterNode
    self._guiConnectors: dict[int, dict[str, GuiConnector]] = {}
    self._guiObserverTags: dict[int, int] = {}
    self._nextGuiTag = 0
    self._updatingGui = False
    self._parameters = {}
    for name, info in self.allParameters.items():
        bound = _BoundParameter(info, parameterNode, prefix)
        if not bound.isIn():
            bound.writeDefault()
        cached = info.serializer.supportsCaching()
        self._parameters[name] = _CachedParameter(info, parameterNode, prefix) if cached else bound


def _getValue(self, name: str):
    _checkParamName(self, name)
    return self._parameters[name].read()


def _setValue(self, name: str, value) -> None:
    _checkParamName(self, name)
    self._parameters[name].write(value)


def _default(self, name: str) -> Default:
    _checkParamName(self, name)
    return self.allParameters[name].default


def _isCached(self, name: str) -> bool:
    _checkParamName(self, name)
    return isinstance(self._parameters[name], _CachedParameter)


def _makeDataType(classtype):
    def dataType(name: str):
        """The annotation as written (Annotated included), which is what GUI connectors read."""
        _checkParamName(classtype, name)
        return classtype.allParameters[name].unalteredType
    return staticmethod(dataType)


def _guiToParameterCallback(self, name: str, connector: GuiConnector):
    def callback() -> None:
        with slicer.util.NodeModify(self):
            if not self._updatingGui:
                self.setValue(name, connector.read())
    return callback


def _updateGuiFromParameterNode(self) -> None:
    """Every connected GUI (all tags) shows the current values; their change signals are ignored meanwhile."""
    if self._updatingGui:
        return
    self._updatingGui = True
    try:
        with slicer.util.NodeModify(self):
            for mapping in self._guiConnectors.values():
                for name, connector in mapping.items():
                    if _alive(connector):
                        connector.write(self.getValue(name))
    finally:
        self._updatingGui = False


def _alive(connector) -> bool:
    """Whether the connector's widget still exists. A panel deleted without disconnectGui leaves its connectors
    behind; PythonQt then raises on the deleted widget, where PySide6 could crash the process."""
    import shiboken6
    widget = connector.widget() if hasattr(connector, "widget") else None
    return widget is None or shiboken6.isValid(widget)


def _connectParametersToGui(self, mapping: dict) -> int:
    """mapping: parameter name -> widget or GuiConnector. The widgets show the values first, then both
    directions are bound. Returns the tag for disconnectGui."""
    for name in mapping:
        _checkParamName(self, name)
    connectors = {name: gui if isinstance(gui, GuiConnector) else createGuiConnector(gui, self.dataType(name))
                  for name, gui in mapping.items()}
    tag = self._nextGuiTag
    self._nextGuiTag += 1
    self._guiConnectors[tag] = connectors
    for name, connector in connectors.items():
        connector.write(self.getValue(name))
        connector.onChanged(_guiToParameterCallback(self, name, connector))
    self._guiObserverTags[tag] = self.AddObserver(vtk.vtkCommand.ModifiedEvent,
                                                  lambda caller, event: _updateGuiFromParameterNode(self))
    return tag


def _isWidget(obj) -> bool:
    return getattr(obj, "isWidgetType", lambda: False)()


def _connectGui(self, gui) -> int:
    """gui: a widget (its descendants are searched) or slicer.util.childWidgetVariables' object (its
    attributes are). Every widget with the SlicerParameterName property is bound; the last one wins."""
    from PySide6.QtWidgets import QWidget
    widgets = gui.findChildren(QWidget) if _isWidget(gui) else gui.__dict__.values()
    mapping = {widget.property(SlicerParameterNamePropertyName): widget for widget in widgets
               if widget.property(SlicerParameterNamePropertyName)}
    return _connectParametersToGui(self, mapping)


def _disconnectGui(self, tag: int) -> None:
    """Stops both directions of the binding made under `tag`; an unknown tag is ignored."""
    for connector in self._guiConnectors.pop(tag, {}).values():
        connector.onChanged(None)
    if tag in self._guiObserverTags:
        self.RemoveObserver(self._guiObserverTags.pop(tag))


def findChildWidgetForParameter(widget, parameter: str):
    """The first descendant whose SlicerParameterName is `parameter`. Slicer's version then looks the name up
    again for parameterPacks, endlessly when no widget has it: it raises RecursionError, so does this."""
    from PySide6.QtWidgets import QWidget
    found = next((w for w in widget.findChildren(QWidget)
                  if w.property(SlicerParameterNamePropertyName) == parameter), None)
    if found is None:
        raise RecursionError(f"maximum recursion depth exceeded looking for a widget of parameter {parameter!r}")
    return found


def _makeProperty(name: str) -> property:
    return property(lambda self: self._parameters[name].read(),
                    lambda self, value: self._parameters[name].write(value))


def _parameterInfo(classtype, name: str, annotatedType) -> ParameterInfo:
    membertype, annotations = splitAnnotations(annotatedType)
    if isinstance(membertype, types.UnionType):
        membertype = typing.Union[typing.get_args(membertype)]
    try:
        serializer, annotations = createSerializer(membertype, annotations)
    except Exception as e:
        raise Exception(f"Unable to create serializer for {classtype} member {name}") from e
    if hasattr(classtype, name):  # `name: T = value`
        default = Default(getattr(classtype, name))
    else:
        default, annotations = extractDefault(annotations)
        default = default or Default(serializer.default())
    if annotations:
        logging.warning(f"Unused annotations: {annotations}")
    return ParameterInfo(name, serializer, default, annotatedType)


def _reserve(classtype, name: str, value) -> None:
    """Slicer refuses a class whose fields or methods already use a wrapper member's name."""
    if hasattr(classtype, name):
        raise ValueError(f"Cannot use reserved name '{name}' in a parameterNodeWrapper")
    setattr(classtype, name, value)


def _processClass(classtype):
    allParameters = {}
    for name, annotatedType in typing.get_type_hints(classtype, include_extras=True).items():
        allParameters[name] = _parameterInfo(classtype, name, annotatedType)
        setattr(classtype, name, _makeProperty(name))
    _reserve(classtype, "allParameters", allParameters)
    _reserve(classtype, "_is_parameter_node_wrapper", True)
    classtype.__init__ = _init  # replaced, not reserved: every class has one
    members = {
        "default": _default, "isCached": _isCached, "dataType": _makeDataType(classtype),
        "getValue": _getValue, "setValue": _setValue, "connectGui": _connectGui,
        "connectParametersToGui": _connectParametersToGui, "disconnectGui": _disconnectGui,
        "StartModify": lambda self: self.parameterNode.StartModify(),
        "EndModify": lambda self, wasModified: self.parameterNode.EndModify(wasModified),
        "AddObserver": lambda self, event, callback, priority=0.0:
            self.parameterNode.AddObserver(event, callback, priority),
        "RemoveObserver": lambda self, tag: self.parameterNode.RemoveObserver(tag),
        "Modified": lambda self: self.parameterNode.Modified(),
    }
    for name, member in members.items():
        _reserve(classtype, name, member)
    return classtype


def isParameterNodeWrapper(classOrObj) -> bool:
    return getattr(classOrObj, "_is_parameter_node_wrapper", False)


def parameterNodeWrapper(classtype=None):
    """Class decorator, with or without parentheses; the class is changed in place and returned."""
    return _processClass if classtype is None else _processClass(classtype)
