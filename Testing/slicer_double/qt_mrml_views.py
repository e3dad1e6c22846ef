"""Stand-ins for the qMRML widgets that show results: the segmentation Show 3D button and the table view,
each written after Slicer's sources (Modules/Loadable/Segmentations/Widgets/qMRMLSegmentationShow3DButton.cxx,
Libs/MRML/Widgets/qMRMLTableView.cxx) with their Python-visible API, over real MRML nodes."""
from __future__ import annotations

import weakref

import shiboken6
import vtk
from PySide6 import QtGui, QtWidgets

from .qt_widgets import PythonQtStyle

CLOSED_SURFACE = "Closed surface"
BINARY_LABELMAP = "Binary labelmap"


def _observe(node, events, widget, slot: str) -> list:
    """Observations calling widget.<slot>() while the widget lives (qvtkReconnect)."""
    ref = weakref.ref(widget)

    def call(caller, event) -> None:
        target = ref()
        if target is not None and shiboken6.isValid(target):
            getattr(target, slot)()
    return [(node, node.AddObserver(event, call)) for event in events]


def _unobserve(observations: list) -> None:
    for node, tag in observations:
        node.RemoveObserver(tag)


class qMRMLSegmentationShow3DButton(PythonQtStyle, QtWidgets.QPushButton):
    """Checkable "Show 3D" button of a segmentation node: checked when the segmentation has a closed surface
    representation; checking creates it (and makes it the 3D display representation, the binary labelmap the
    2D one), unchecking removes it unless it is the source representation. Enabled only with a node that has
    segments and a non-surface source (ctkMenuButton's smoothing menu is left out)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._node, self._observations, self._locked = None, [], False
        self.setCheckable(True)
        self.setText("Show 3D")
        self.toggled.connect(self.onToggled)
        self.setEnabled(False)

    def segmentationNode(self):
        return self._node

    def setSegmentationNode(self, node) -> None:
        if node is self._node:
            return
        _unobserve(self._observations)
        self._node, self._observations = node, []
        if node is not None:
            import slicer
            segmentation = slicer.vtkSegmentation
            events = (vtk.vtkCommand.ModifiedEvent, segmentation.SegmentAdded, segmentation.SegmentRemoved,
                      segmentation.ContainedRepresentationNamesModified)
            self._observations = _observe(node, events, self, "updateWidgetFromMRML")
        self.updateWidgetFromMRML()

    def updateWidgetFromMRML(self) -> None:
        segmentation = self._node.GetSegmentation() if self._node is not None else None
        if segmentation is None:
            self.setEnabled(False)
            return
        self.setEnabled(not self._locked and segmentation.GetNumberOfSegments() > 0
                        and segmentation.GetSourceRepresentationName() != CLOSED_SURFACE)
        blocked = self.blockSignals(True)
        self.setChecked(segmentation.ContainsRepresentation(CLOSED_SURFACE))
        self.blockSignals(blocked)

    def onToggled(self, on: bool) -> None:
        segmentation = self._node.GetSegmentation() if self._node is not None else None
        if segmentation is None:
            return
        wasModifying = self._node.StartModify()
        if on:
            if segmentation.CreateRepresentation(CLOSED_SURFACE):
                display = self._node.GetDisplayNode()
                if display is not None:
                    display.SetPreferredDisplayRepresentationName3D(CLOSED_SURFACE)
                    if segmentation.ContainsRepresentation(BINARY_LABELMAP):
                        display.SetPreferredDisplayRepresentationName2D(BINARY_LABELMAP)
        elif segmentation.GetSourceRepresentationName() != CLOSED_SURFACE:
            segmentation.RemoveRepresentation(CLOSED_SURFACE)
        self._node.EndModify(wasModifying)


class qMRMLTableView(PythonQtStyle, QtWidgets.QTableView):
    """A table node's cells in a QTableView: column names as the header, one view row per table row, refreshed
    when the node is modified; clicked(QModelIndex) and the selection model are QTableView's."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._scene, self._node, self._observations = None, None, []
        self.setModel(QtGui.QStandardItemModel(self))

    def mrmlScene(self):
        return self._scene

    def setMRMLScene(self, scene) -> None:
        self._scene = scene
        if self._node is not None and (scene is None or not scene.IsNodePresent(self._node)):
            self.setMRMLTableNode(None)

    def mrmlTableNode(self):
        return self._node

    def setMRMLTableNode(self, node) -> None:
        if node is self._node:
            return
        _unobserve(self._observations)
        self._node = node
        self._observations = _observe(node, (vtk.vtkCommand.ModifiedEvent,), self, "updateViewFromMRML") if node else []
        self.updateViewFromMRML()

    def updateViewFromMRML(self) -> None:
        model = self.model()
        model.clear()
        if self._node is None:
            return
        table = self._node
        model.setHorizontalHeaderLabels([table.GetColumnName(c) for c in range(table.GetNumberOfColumns())])
        for r in range(table.GetNumberOfRows()):
            model.appendRow([QtGui.QStandardItem(table.GetCellText(r, c)) for c in range(table.GetNumberOfColumns())])
