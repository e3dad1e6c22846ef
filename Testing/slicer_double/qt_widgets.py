"""The modules' Designer files loaded as Slicer loads them, over real Qt (PySide6).

Slicer's Python binding is PythonQt, whose conventions differ from PySide6's: a Qt property is an attribute
(`button.enabled = False`, `label.text`; it hides the same-named method), `obj.name` is the objectName,
`obj.className()` the class name, and `obj.connect("clicked(bool)", fn)` connects by signature. On plain
PySide6 widgets a property write only sets a Python attribute (the widget is unchanged, and `toolTip = ...`
hides the toolTip() method), a property read gives the method, `name` and `className` do not exist, and
that connect raises TypeError. So `UiLoader` creates every widget of a .ui as a PythonQt-style subclass of
its Qt class (named as that class), and the CTK / qMRML widgets the .ui files use as PySide6 stand-ins with
Slicer's API (same names, properties and signals).

    widget = loadUI(path)    # as slicer.util.loadUI; or qt.QUiLoader = UiLoader and call slicer.util.loadUI
"""
from __future__ import annotations

import functools
import re
import types
import weakref
import xml.etree.ElementTree as ET
from pathlib import Path

import shiboken6
from PySide6 import QtWidgets
from PySide6.QtCore import SIGNAL, Property, QBuffer, QByteArray, QFile, QObject, Qt, Signal
from PySide6.QtUiTools import QUiLoader

from .application import qtApplication

# ------------------------------------------------------------------ PythonQt conventions


@functools.cache
def _qtProperties(cls: type) -> frozenset[str]:
    """The C++ Qt properties of the PySide6 class under `cls` (Python-declared ones are plain descriptors)."""
    qtClass = next(c for c in cls.__mro__ if c.__module__.startswith("PySide6"))
    meta = qtClass.staticMetaObject
    return frozenset(meta.property(i).name() for i in range(meta.propertyCount()))


def _signature(signal: str) -> str:
    """PythonQt's C++ signature as PySide6 names it: MRML pointers travel as Python objects."""
    return re.sub(r"\bvtk\w*\s*\*", "PyObject", signal.replace(" ", ""))


class PythonQtStyle:
    """Mixin giving a PySide6 object PythonQt's attribute conventions (see the module docstring)."""

    def __getattribute__(self, name: str):
        if name in ("connect", "disconnect"):  # PySide6 resolves these before the class's own attributes
            return types.MethodType(getattr(PythonQtStyle, f"_{name}"), self)
        if name == "name":
            return QObject.objectName(self)
        if name in _qtProperties(type(self)):
            return QObject.property(self, name)
        return super().__getattribute__(name)

    def __setattr__(self, name: str, value) -> None:
        if name in _qtProperties(type(self)):
            if not QObject.setProperty(self, name, value):
                raise AttributeError(f"Could not set property {name!r} of {type(self).__name__} to {value!r}")
        else:
            super().__setattr__(name, value)

    def className(self) -> str:
        return QObject.metaObject(self).className()

    def _connect(self, signal: str, slot) -> bool:
        return bool(QObject.connect(self, SIGNAL(_signature(signal)), slot))

    def _disconnect(self, signal: str, slot) -> bool:
        return QObject.disconnect(self, SIGNAL(_signature(signal)), slot)


@functools.cache
def pythonQtClass(qtClass: type) -> type:
    """`qtClass` with PythonQt conventions, under the same class name (GUI connectors match on it)."""
    return type(qtClass.__name__, (PythonQtStyle, qtClass), {})


# ------------------------------------------------------------------ CTK and qMRML stand-ins


class qMRMLWidget(PythonQtStyle, QtWidgets.QWidget):
    """Root of a module panel: setMRMLScene emits mrmlSceneChanged, which the .ui wires to every MRML widget."""
    mrmlSceneChanged = Signal(object)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._scene = None

    def mrmlScene(self):
        return self._scene

    def setMRMLScene(self, scene) -> None:
        if scene is not self._scene:
            self._scene = scene
            self.mrmlSceneChanged.emit(scene)


class _Collapsible:
    """Collapsing hides the child widgets; expanding shows again those it hid (ctkCollapsibleButton,
    ctkCollapsibleGroupBox)."""
    contentsCollapsed = Signal(bool)

    def _initCollapsible(self) -> None:
        self._collapsed = False
        self._hiddenByCollapse: list = []

    def _isCollapsed(self) -> bool:
        return self._collapsed

    def setCollapsed(self, collapsed: bool) -> None:
        if collapsed == self._collapsed:
            return
        self._collapsed = collapsed
        if collapsed:
            children = self.findChildren(QtWidgets.QWidget, options=Qt.FindDirectChildrenOnly)
            self._hiddenByCollapse = [c for c in children if not c.isHidden()]
        for child in self._hiddenByCollapse:
            child.setHidden(collapsed)
        self.contentsCollapsed.emit(collapsed)

    collapsed = Property(bool, _isCollapsed, setCollapsed)


class ctkCollapsibleButton(_Collapsible, PythonQtStyle, QtWidgets.QPushButton):
    """A titled section (a QAbstractButton in CTK) holding the widgets of its layout."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._initCollapsible()


class ctkCollapsibleGroupBox(_Collapsible, PythonQtStyle, QtWidgets.QGroupBox):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._initCollapsible()


class ctkPathLineEdit(PythonQtStyle, QtWidgets.QWidget):
    """A path field: currentPath is the text; currentPathChanged(QString) follows every change (CTK emits it
    for acceptable input, and without nameFilters all input is). `filters` holds the .ui set's flag names."""
    currentPathChanged = Signal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._lineEdit = QtWidgets.QLineEdit(self)
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._lineEdit)
        self._lineEdit.textChanged.connect(self.currentPathChanged.emit)
        self._filters: list[str] = []

    def _currentPath(self) -> str:
        return self._lineEdit.text()

    def setCurrentPath(self, path: str) -> None:
        self._lineEdit.setText(path)

    def _getFilters(self) -> list[str]:
        return self._filters

    def setFilters(self, filters: list[str]) -> None:
        self._filters = list(filters)

    currentPath = Property(str, _currentPath, setCurrentPath)
    filters = Property("QStringList", _getFilters, setFilters)


def _flag(name: str) -> tuple:
    """(Qt property, setter method) for one of qMRMLNodeComboBox's bool properties (noneEnabled, ...)."""
    def getter(self) -> bool:
        return self._flags[name]

    def setter(self, value: bool) -> None:
        wasEmpty = self._isEmpty()
        self._flags[name] = bool(value)
        self._rebuild(wasEmpty)
    return Property(bool, getter, setter), setter


class qMRMLNodeComboBox(PythonQtStyle, QtWidgets.QWidget):
    """A node selector (qMRMLNodeComboBox.cxx): lists the scene's nodes of `nodeTypes` in scene order (subclasses
    too unless showChildNodeTypes is false; hidden nodes only with showHidden), after a "None" item when
    noneEnabled, and follows the scene's NodeAdded / NodeRemoved events. Its selection moves as QComboBox's
    does: a removed current node gives way to the row now at its place (else the last one); the first row
    is selected when the list was empty, which the "Create new..." style action items of add/remove/edit/
    rename prevent. Disabled until it has a scene. currentNodeChanged is emitted when the node changes (not
    while the scene is being set), as vtkMRMLNode* (object) and as bool."""
    currentNodeChanged = Signal((object,), (bool,))
    currentNodeIDChanged = Signal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._combo = QtWidgets.QComboBox(self)
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._combo)
        self._combo.currentIndexChanged.connect(self._emitCurrentNode)
        self._scene, self._observations, self._requestedID = None, [], ""
        self._nodeTypes: list[str] = []
        self._flags = {"noneEnabled": False, "addEnabled": True, "removeEnabled": True, "editEnabled": False,
                       "renameEnabled": False, "showHidden": False, "showChildNodeTypes": True}
        self.setEnabled(False)

    # --- scene
    def mrmlScene(self):
        return self._scene

    def setMRMLScene(self, scene) -> None:
        if scene is self._scene:
            return
        requested = self._requestedID or self._currentNodeID()
        wasEmpty = self._isEmpty()
        for oldScene, tag in self._observations:
            oldScene.RemoveObserver(tag)
        self._scene, self._observations = scene, []
        if scene is not None:
            self._observe(scene)
        self._rebuild(wasEmpty, emit=False)
        if requested:
            self.setCurrentNodeID(requested)
        self._requestedID = ""
        self.setEnabled(scene is not None)

    def _observe(self, scene) -> None:
        ref = weakref.ref(self)

        def onSceneEvent(caller, event) -> None:
            widget = ref()
            if widget is not None and shiboken6.isValid(widget):  # a deleted panel still observes: ignore
                widget._rebuild(widget._isEmpty())
        self._observations = [(scene, scene.AddObserver(event, onSceneEvent))
                              for event in (scene.NodeAddedEvent, scene.NodeRemovedEvent)]

    # --- listing
    def _listed(self, node) -> bool:
        if node.GetHideFromEditors() and not self._flags["showHidden"]:
            return False
        if self._flags["showChildNodeTypes"]:
            return any(node.IsA(nodeType) for nodeType in self._nodeTypes)
        return node.GetClassName() in self._nodeTypes

    def _isEmpty(self) -> bool:
        """Whether the real combobox has no row at all (its action items count, once it has a scene)."""
        actions = any(self._flags[f] for f in ("addEnabled", "removeEnabled", "editEnabled", "renameEnabled"))
        return self._combo.count() == 0 and not (self._scene is not None and actions)

    def _rebuild(self, wasEmpty: bool, emit: bool = True) -> None:
        oldIndex = self._combo.currentIndex()
        oldKey = self._combo.itemData(oldIndex) if oldIndex >= 0 else None  # "" is the None item
        rows = [("", "None")] if self._flags["noneEnabled"] and self._scene is not None else []
        if self._scene is not None:
            nodes = (self._scene.GetNthNode(i) for i in range(self._scene.GetNumberOfNodes()))
            rows += [(node.GetID(), node.GetName()) for node in nodes if self._listed(node)]
        self._combo.blockSignals(True)
        self._combo.clear()
        for key, text in rows:
            self._combo.addItem(text, key)
        kept = self._combo.findData(oldKey) if oldKey is not None else -1
        if kept >= 0:
            index = kept
        elif oldKey is not None:
            index = min(len(rows) - 1, oldIndex)
        else:
            index = 0 if wasEmpty and rows else -1
        self._combo.setCurrentIndex(index)
        self._combo.blockSignals(False)
        if emit and (self._combo.itemData(index) if index >= 0 else None) != oldKey:
            self._emitCurrentNode()

    # --- selection
    def currentNode(self):
        nodeID = self._currentNodeID()
        return self._scene.GetNodeByID(nodeID) if self._scene is not None and nodeID else None

    def setCurrentNode(self, node) -> None:
        self.setCurrentNodeID(node.GetID() if node is not None else "")

    def _currentNodeID(self) -> str:
        index = self._combo.currentIndex()
        return (self._combo.itemData(index) or "") if index >= 0 else ""

    def setCurrentNodeID(self, nodeID: str) -> None:
        """An unknown or empty ID selects the None item, or nothing when None is not enabled."""
        if self._scene is None:
            self._requestedID = nodeID
        index = self._combo.findData(nodeID) if nodeID else -1
        if index < 0:
            index = 0 if self._flags["noneEnabled"] and self._combo.count() else -1
        self._combo.setCurrentIndex(index)

    def _emitCurrentNode(self) -> None:
        node = self.currentNode()
        self.currentNodeChanged.emit(node)
        self.currentNodeChanged[bool].emit(node is not None)
        self.currentNodeIDChanged.emit(self._currentNodeID())

    currentNodeID = Property(str, _currentNodeID, setCurrentNodeID)

    # --- properties
    def _getNodeTypes(self) -> list[str]:
        return list(self._nodeTypes)

    def setNodeTypes(self, nodeTypes) -> None:
        self._nodeTypes = [t for t in nodeTypes if t]  # Slicer drops empty strings
        self._rebuild(self._isEmpty())

    nodeTypes = Property("QStringList", _getNodeTypes, setNodeTypes)
    noneEnabled, setNoneEnabled = _flag("noneEnabled")
    addEnabled, setAddEnabled = _flag("addEnabled")
    removeEnabled, setRemoveEnabled = _flag("removeEnabled")
    editEnabled, setEditEnabled = _flag("editEnabled")
    renameEnabled, setRenameEnabled = _flag("renameEnabled")
    showHidden, setShowHidden = _flag("showHidden")
    showChildNodeTypes, setShowChildNodeTypes = _flag("showChildNodeTypes")


from .qt_mrml_views import qMRMLSegmentationShow3DButton, qMRMLTableView  # noqa: E402 (they use PythonQtStyle)

STAND_INS = {cls.__name__: cls for cls in (qMRMLWidget, qMRMLNodeComboBox, ctkCollapsibleButton,
                                           ctkCollapsibleGroupBox, ctkPathLineEdit, qMRMLSegmentationShow3DButton,
                                           qMRMLTableView)}

# ------------------------------------------------------------------ loading .ui files


class UiLoader(QUiLoader):
    """QUiLoader whose widgets are PythonQt-style, with the stand-ins for CTK / qMRML classes. The .ui's
    <connections> (mrmlSceneChanged -> setMRMLScene) are made in Python, as their C++ signatures name MRML
    types; a <set> property of a stand-in arrives as the list of its flag names."""

    def createWidget(self, className: str, parent=None, name: str = ""):
        qtClass = getattr(QtWidgets, className, None)
        cls = STAND_INS.get(className) or (pythonQtClass(qtClass) if isinstance(qtClass, type) else None)
        if cls is None:  # Designer's pseudo-classes such as Line
            return super().createWidget(className, parent, name)
        widget = cls(parent)
        widget.setObjectName(name)
        return widget

    def load(self, device, parentWidget=None):
        qtApplication()  # widgets need the process's QApplication
        root = ET.fromstring(_read(device))
        _refuseUnknownClasses(root)
        _setsToStringLists(root)
        connections = root.find("connections")
        if connections is not None:
            root.remove(connections)
        buffer = QBuffer()
        buffer.setData(QByteArray(ET.tostring(root, encoding="utf-8")))
        buffer.open(QBuffer.ReadOnly)
        widget = super().load(buffer, parentWidget)
        if widget is not None and connections is not None:
            _connect(widget, connections)
        return widget


def _read(device) -> bytes:
    if isinstance(device, (str, Path)):
        return Path(device).read_bytes()
    return bytes(device.readAll().data())


def _refuseUnknownClasses(root: ET.Element) -> None:
    """A CTK / Slicer class without a stand-in would load as its Designer base class and bind differently."""
    unknown = {c.findtext("class") for c in root.iter("customwidget")} - set(STAND_INS)
    if unknown:
        raise NotImplementedError(f"No stand-in for {sorted(unknown)} in slicer_double.qt_widgets")


def _setsToStringLists(root: ET.Element) -> None:
    for widget in root.iter("widget"):
        if widget.get("class") not in STAND_INS:
            continue
        for value in widget.findall("./property/set"):
            value.tag = "stringlist"
            for flag in (value.text or "").split("|"):
                ET.SubElement(value, "string").text = flag.split("::")[-1].strip()
            value.text = None


def _connect(root, connections: ET.Element) -> None:
    """Each <connection> made with PythonQt's connect (signal signature, bound slot method)."""
    def find(name: str):
        return root if QObject.objectName(root) == name else root.findChild(QObject, name)
    for connection in connections.iter("connection"):
        sender, receiver = find(connection.findtext("sender")), find(connection.findtext("receiver"))
        slotName = connection.findtext("slot").split("(")[0]
        sender.connect(connection.findtext("signal"), getattr(receiver, slotName))


def loadUI(path) -> QtWidgets.QWidget:
    """slicer.util.loadUI with UiLoader: RuntimeError if the file is missing or gives no widget."""
    file = QFile(str(path))
    if not file.exists():
        raise RuntimeError(f"Could not load UI file: file not found {path}\n\n")
    file.open(QFile.ReadOnly)
    try:
        widget = UiLoader().load(file)
    finally:
        file.close()
    if widget is None:
        raise RuntimeError(f"Could not load UI file: {path}\n\n")
    return widget
