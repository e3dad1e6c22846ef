"""The modules' Designer files loaded as Slicer loads them, over real Qt (PySide6).

Slicer's Python binding is PythonQt, whose conventions differ from PySide6's: a Qt property is an attribute
(`button.enabled = False`, `label.text`; it hides the same-named method), `obj.name` is the objectName, and
`obj.connect("clicked(bool)", fn)` connects by signature. On plain PySide6 widgets the first silently sets a
Python attribute, the second returns the method, the third raises TypeError. So `UiLoader` creates every
widget of a .ui as a PythonQt-style subclass of its Qt class (named as that class), and the CTK / qMRML
widgets the .ui files use as PySide6 stand-ins with Slicer's API (same names, properties and signals).

    widget = loadUI(path)    # as slicer.util.loadUI; or qt.QUiLoader = UiLoader and call slicer.util.loadUI
"""
from __future__ import annotations

import functools
import re
import types
import xml.etree.ElementTree as ET
from pathlib import Path

from PySide6 import QtWidgets
from PySide6.QtCore import SIGNAL, Property, QBuffer, QByteArray, QFile, QObject, Signal
from PySide6.QtUiTools import QUiLoader

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
    """Collapsing hides the child widgets, expanding shows again those that were shown (ctkCollapsibleButton,
    ctkCollapsibleGroupBox)."""
    contentsCollapsed = Signal(bool)

    def _initCollapsible(self) -> None:
        self._collapsed = False
        self._shownBeforeCollapse: list = []

    def isCollapsed(self) -> bool:
        return self._collapsed

    def setCollapsed(self, collapsed: bool) -> None:
        if collapsed == self._collapsed:
            return
        self._collapsed = collapsed
        if collapsed:
            children = self.findChildren(QtWidgets.QWidget, options=QObject.FindDirectChildrenOnly)
            self._shownBeforeCollapse = [c for c in children if not c.isHidden()]
            for child in self._shownBeforeCollapse:
                child.hide()
        else:
            for child in self._shownBeforeCollapse:
                child.show()
        self.contentsCollapsed.emit(collapsed)

    collapsed = Property(bool, isCollapsed, setCollapsed)


class ctkCollapsibleButton(_Collapsible, PythonQtStyle, QtWidgets.QPushButton):
    """A titled section (QAbstractButton in CTK) holding the widgets of its layout."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._initCollapsible()


class ctkCollapsibleGroupBox(_Collapsible, PythonQtStyle, QtWidgets.QGroupBox):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._initCollapsible()


class ctkPathLineEdit(PythonQtStyle, QtWidgets.QWidget):
    """A path field: currentPath is the text, currentPathChanged(QString) follows every change (CTK emits it
    for acceptable input; with no nameFilters all input is). `filters` holds the flag names of the .ui set."""
    currentPathChanged = Signal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._lineEdit = QtWidgets.QLineEdit(self)
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._lineEdit)
        self._lineEdit.textChanged.connect(self.currentPathChanged.emit)
        self._filters: list[str] = []

    def getCurrentPath(self) -> str:
        return self._lineEdit.text()

    def setCurrentPath(self, path: str) -> None:
        self._lineEdit.setText(path)

    def getFilters(self) -> list[str]:
        return self._filters

    def setFilters(self, filters: list[str]) -> None:
        self._filters = list(filters)

    currentPath = Property(str, getCurrentPath, setCurrentPath)
    filters = Property("QStringList", getFilters, setFilters)


from .node_combobox import qMRMLNodeComboBox  # noqa: E402  (it builds on PythonQtStyle)

STAND_INS = {cls.__name__: cls for cls in (qMRMLWidget, qMRMLNodeComboBox, ctkCollapsibleButton,
                                           ctkCollapsibleGroupBox, ctkPathLineEdit)}

# ------------------------------------------------------------------ loading .ui files


def application() -> QtWidgets.QApplication:
    """Widgets need the process's QApplication."""
    from .application import qtApplication
    return qtApplication()


class UiLoader(QUiLoader):
    """QUiLoader whose widgets are PythonQt-style, with the stand-ins for CTK / qMRML classes. The .ui's
    <connections> (mrmlSceneChanged -> setMRMLScene) are made in Python, as their C++ signatures name MRML
    types; a <set> property of a stand-in arrives as the list of its flag names."""

    def createWidget(self, className: str, parent=None, name: str = ""):
        cls = STAND_INS.get(className) or pythonQtClass(getattr(QtWidgets, className))
        widget = cls(parent)
        widget.setObjectName(name)
        return widget

    def load(self, device, parentWidget=None):
        application()
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
    """A Slicer widget class without a stand-in would load as its Designer base class and bind differently."""
    unknown = {w.get("class") for w in root.iter("widget")} - set(STAND_INS) - set(dir(QtWidgets))
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
        return root if root.objectName() == name else root.findChild(QObject, name)
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
