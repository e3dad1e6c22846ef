"""Data nodes of the double: volumes, transforms, segmentations, markups ROI, tables, plots.

Image data, matrices, transforms and tables are real VTK objects; geometry follows
vtkMRMLVolumeNode (origin, spacing, 3x3 IJK-to-RAS directions).
"""
from __future__ import annotations

import numpy as np
import vtk

from .mrml_core import vtkMRMLNode, vtkMRMLScene

register = vtkMRMLScene._register


def _matrix_array(matrix: vtk.vtkMatrix4x4) -> np.ndarray:
    return np.array([[matrix.GetElement(r, c) for c in range(4)] for r in range(4)])


def _fill_matrix(matrix: vtk.vtkMatrix4x4, array: np.ndarray) -> None:
    for r in range(4):
        for c in range(4):
            matrix.SetElement(r, c, float(array[r, c]))


@register
class vtkMRMLDisplayNode(vtkMRMLNode):
    def __init__(self) -> None:
        super().__init__()
        self._visibility = 1
        self._color = (0.5, 0.5, 0.5)

    def SetVisibility(self, visible: int) -> None:
        self._visibility = int(visible)

    def GetVisibility(self) -> int:
        return self._visibility

    def SetColor(self, *rgb) -> None:
        self._color = tuple(float(c) for c in (rgb[0] if len(rgb) == 1 else rgb))

    def GetColor(self) -> tuple:
        return self._color


@register
class vtkMRMLVolumeDisplayNode(vtkMRMLDisplayNode):
    pass


@register
class vtkMRMLScalarVolumeDisplayNode(vtkMRMLVolumeDisplayNode):
    pass


@register
class vtkMRMLSegmentationDisplayNode(vtkMRMLDisplayNode):
    pass


class vtkMRMLStorableNode(vtkMRMLNode):
    def StorableModified(self) -> None:
        self.Modified()


class vtkMRMLTransformableNode(vtkMRMLStorableNode):
    def SetAndObserveTransformNodeID(self, node_id) -> None:
        self.SetNodeReferenceID("transform", node_id)

    def GetTransformNodeID(self):
        return self.GetNodeReferenceID("transform")

    def GetParentTransformNode(self):
        return self.GetNodeReference("transform")

    def TransformPointToWorld(self, local, world) -> None:
        point = list(local)
        node = self.GetParentTransformNode()
        while node is not None:
            point = list(node.GetTransformToParent().TransformPoint(point))
            node = node.GetParentTransformNode()
        world[:] = point

    def TransformPointFromWorld(self, world, local) -> None:
        chain = []
        node = self.GetParentTransformNode()
        while node is not None:
            chain.append(node)
            node = node.GetParentTransformNode()
        point = list(world)
        for node in reversed(chain):
            point = list(node.GetTransformFromParent().TransformPoint(point))
        local[:] = point


class vtkMRMLDisplayableNode(vtkMRMLTransformableNode):
    _display_class = "vtkMRMLDisplayNode"

    def CreateDefaultDisplayNodes(self) -> None:
        if self.GetDisplayNode() is None and self.GetScene() is not None:
            self.SetAndObserveDisplayNodeID(self.GetScene().AddNewNodeByClass(self._display_class).GetID())

    def SetAndObserveDisplayNodeID(self, node_id) -> None:
        self.SetNodeReferenceID("display", node_id)

    def GetDisplayNode(self):
        return self.GetNodeReference("display")

    def GetDisplayNodeID(self):
        return self.GetNodeReferenceID("display")


class vtkMRMLVolumeNode(vtkMRMLDisplayableNode):
    ImageDataModifiedEvent = vtk.vtkCommand.UserEvent + 0x3000

    def __init__(self) -> None:
        super().__init__()
        self._image = None
        self._origin = np.zeros(3)
        self._spacing = np.ones(3)
        self._directions = np.eye(3)  # columns: I, J, K directions in RAS

    def GetImageData(self):
        return self._image

    def SetAndObserveImageData(self, image) -> None:
        self._image = image
        self.InvokeEvent(self.ImageDataModifiedEvent)
        self.Modified()

    def SetOrigin(self, *origin) -> None:
        self._origin = np.array(origin[0] if len(origin) == 1 else origin, float)
        self.Modified()

    def GetOrigin(self) -> tuple:
        return tuple(float(x) for x in self._origin)

    def SetSpacing(self, *spacing) -> None:
        self._spacing = np.array(spacing[0] if len(spacing) == 1 else spacing, float)
        self.Modified()

    def GetSpacing(self) -> tuple:
        return tuple(float(x) for x in self._spacing)

    def SetIJKToRASDirectionMatrix(self, matrix: vtk.vtkMatrix4x4) -> None:
        self._directions = _matrix_array(matrix)[:3, :3]
        self.Modified()

    def GetIJKToRASDirectionMatrix(self, matrix: vtk.vtkMatrix4x4) -> None:
        array = np.eye(4)
        array[:3, :3] = self._directions
        _fill_matrix(matrix, array)

    def _ijk_to_ras(self) -> np.ndarray:
        m = np.eye(4)
        m[:3, :3] = self._directions * self._spacing
        m[:3, 3] = self._origin
        return m

    def GetIJKToRASMatrix(self, matrix: vtk.vtkMatrix4x4) -> None:
        _fill_matrix(matrix, self._ijk_to_ras())

    def GetRASToIJKMatrix(self, matrix: vtk.vtkMatrix4x4) -> None:
        _fill_matrix(matrix, np.linalg.inv(self._ijk_to_ras()))

    def SetIJKToRASMatrix(self, matrix: vtk.vtkMatrix4x4) -> None:
        m = _matrix_array(matrix)
        self._spacing = np.linalg.norm(m[:3, :3], axis=0)
        self._directions = m[:3, :3] / self._spacing
        self._origin = m[:3, 3].copy()
        self.Modified()

    def CopyOrientation(self, other: "vtkMRMLVolumeNode") -> None:
        self._origin, self._spacing = other._origin.copy(), other._spacing.copy()
        self._directions = other._directions.copy()
        self.Modified()


@register
class vtkMRMLScalarVolumeNode(vtkMRMLVolumeNode):
    _display_class = "vtkMRMLScalarVolumeDisplayNode"


@register
class vtkMRMLLabelMapVolumeNode(vtkMRMLScalarVolumeNode):
    _display_class = "vtkMRMLDisplayNode"


class vtkMRMLTransformNode(vtkMRMLDisplayableNode):
    """Holds the transform from parent (resampling direction), as Slicer stores ITK transforms."""

    def __init__(self) -> None:
        super().__init__()
        self._from_parent = vtk.vtkTransform()

    def SetAndObserveTransformFromParent(self, transform) -> None:
        self._from_parent = transform
        self.Modified()

    def SetAndObserveTransformToParent(self, transform) -> None:
        self.SetAndObserveTransformFromParent(transform.GetInverse())

    def GetTransformFromParent(self):
        return self._from_parent

    def GetTransformToParent(self):
        return self._from_parent.GetInverse()

    def IsLinear(self) -> int:
        return int(isinstance(self._from_parent, vtk.vtkLinearTransform))

    def SetMatrixTransformFromParent(self, matrix: vtk.vtkMatrix4x4) -> None:
        transform = vtk.vtkTransform()
        transform.SetMatrix(matrix)
        self.SetAndObserveTransformFromParent(transform)

    def SetMatrixTransformToParent(self, matrix: vtk.vtkMatrix4x4) -> None:
        inverse = vtk.vtkMatrix4x4()
        vtk.vtkMatrix4x4.Invert(matrix, inverse)
        self.SetMatrixTransformFromParent(inverse)

    def GetMatrixTransformFromParent(self, matrix: vtk.vtkMatrix4x4) -> int:
        if not self.IsLinear():
            return 0
        matrix.DeepCopy(self._from_parent.GetMatrix())
        return 1

    def GetMatrixTransformToParent(self, matrix: vtk.vtkMatrix4x4) -> int:
        if not self.IsLinear():
            return 0
        vtk.vtkMatrix4x4.Invert(self._from_parent.GetMatrix(), matrix)
        return 1


@register
class vtkMRMLLinearTransformNode(vtkMRMLTransformNode):
    pass


@register
class vtkMRMLGridTransformNode(vtkMRMLTransformNode):
    pass


class vtkSegment(vtk.vtkObject):
    def __init__(self) -> None:
        super().__init__()
        self._name, self._color = "", (0.5, 0.5, 0.5)

    def GetClassName(self) -> str:
        return "vtkSegment"

    def SetName(self, name: str) -> None:
        self._name = name

    def GetName(self) -> str:
        return self._name

    def SetColor(self, *rgb) -> None:
        self._color = tuple(float(c) for c in (rgb[0] if len(rgb) == 1 else rgb))

    def GetColor(self) -> tuple:
        return self._color


class vtkSegmentation(vtk.vtkObject):
    """Segments in order; their binary labelmaps are kept by the segmentation node of the double."""

    def __init__(self) -> None:
        super().__init__()
        self._segments: dict[str, vtkSegment] = {}

    def GetClassName(self) -> str:
        return "vtkSegmentation"

    def AddEmptySegment(self, segment_id: str = "", name: str = "", color=None) -> str:
        segment_id = segment_id or f"Segment_{len(self._segments) + 1}"
        segment = vtkSegment()
        segment.SetName(name or segment_id)
        if color is not None:
            segment.SetColor(*color)
        self._segments[segment_id] = segment
        self.Modified()
        return segment_id

    def GetSegment(self, segment_id: str):
        return self._segments.get(segment_id)

    def GetNumberOfSegments(self) -> int:
        return len(self._segments)

    def GetNthSegmentID(self, n: int) -> str:
        return list(self._segments)[n]

    def GetSegmentIdBySegmentName(self, name: str) -> str:
        return next((k for k, s in self._segments.items() if s.GetName() == name), "")

    def RemoveSegment(self, segment_id: str) -> None:
        self._segments.pop(segment_id, None)
        self.Modified()

    def RemoveAllSegments(self) -> None:
        self._segments.clear()
        self.Modified()


@register
class vtkMRMLSegmentationNode(vtkMRMLDisplayableNode):
    _display_class = "vtkMRMLSegmentationDisplayNode"

    def __init__(self) -> None:
        super().__init__()
        self._segmentation = vtkSegmentation()
        self._labelmaps: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # id -> (mask KJI, IJK-to-RAS)
        self._reference_geometry = None

    def GetSegmentation(self) -> vtkSegmentation:
        return self._segmentation

    def GetReferenceImageGeometryReferenceRole(self) -> str:
        return "referenceImageGeometryRef"

    def SetReferenceImageGeometryParameterFromVolumeNode(self, volume) -> None:
        self._reference_geometry = (volume._ijk_to_ras(), volume.GetImageData().GetDimensions())
        self.Modified()

    def RemoveSegment(self, segment_id: str) -> None:
        self._segmentation.RemoveSegment(segment_id)
        self._labelmaps.pop(segment_id, None)


class vtkMRMLMarkupsNode(vtkMRMLDisplayableNode):
    pass


@register
class vtkMRMLMarkupsROINode(vtkMRMLMarkupsNode):
    """A box ROI: centre and full side lengths in RAS mm, axes aligned with RAS."""

    def __init__(self) -> None:
        super().__init__()
        self._center = np.zeros(3)
        self._size = np.zeros(3)

    def SetCenter(self, *center) -> None:
        self._center = np.array(center[0] if len(center) == 1 else center, float)
        self.Modified()

    def GetCenter(self, out=None):
        if out is not None:
            out[:] = self._center
        return tuple(float(x) for x in self._center)

    def SetSize(self, *size) -> None:
        self._size = np.array(size[0] if len(size) == 1 else size, float)
        self.Modified()

    def GetSize(self, out=None):
        if out is not None:
            out[:] = self._size
        return tuple(self._size)

    def SetRadiusXYZ(self, *radius) -> None:
        self.SetSize(2 * np.array(radius[0] if len(radius) == 1 else radius, float))

    def GetRadiusXYZ(self, out=None):
        radius = tuple(self._size / 2)
        if out is not None:
            out[:] = radius
        return radius


@register
class vtkMRMLTableNode(vtkMRMLStorableNode):
    def __init__(self) -> None:
        super().__init__()
        self._table = vtk.vtkTable()

    def GetTable(self) -> vtk.vtkTable:
        return self._table

    def AddColumn(self, array=None):
        array = array if array is not None else vtk.vtkStringArray()
        if not array.GetName():
            array.SetName(f"Column {self.GetNumberOfColumns() + 1}")
        array.SetNumberOfTuples(self.GetNumberOfRows())
        self._table.AddColumn(array)
        self.Modified()
        return array

    def RemoveAllColumns(self) -> None:
        while self._table.GetNumberOfColumns():
            self._table.RemoveColumn(0)
        self.Modified()

    def AddEmptyRow(self) -> int:
        for c in range(self.GetNumberOfColumns()):
            column = self._table.GetColumn(c)
            column.InsertNextValue("" if isinstance(column, vtk.vtkStringArray) else 0)
        self.Modified()
        return self.GetNumberOfRows() - 1

    def GetNumberOfRows(self) -> int:
        return self._table.GetNumberOfRows()

    def GetNumberOfColumns(self) -> int:
        return self._table.GetNumberOfColumns()

    def GetColumnName(self, column: int) -> str:
        return self._table.GetColumnName(column)

    def SetCellText(self, row: int, column: int, text: str) -> bool:
        array = self._table.GetColumn(column)
        if isinstance(array, vtk.vtkStringArray):
            array.SetValue(row, text)
        else:
            array.SetValue(row, float(text))
        self.Modified()
        return True

    def GetCellText(self, row: int, column: int) -> str:
        return str(self._table.GetValue(row, column).ToString())


@register
class vtkMRMLPlotSeriesNode(vtkMRMLNode):
    PlotTypeLine, PlotTypeBar, PlotTypeScatter = 0, 1, 2
    MarkerStyleNone, MarkerStyleCross, MarkerStylePlus, MarkerStyleSquare, MarkerStyleCircle = range(5)

    def __init__(self) -> None:
        super().__init__()
        self._x = self._y = ""
        self._plot_type, self._marker, self._color = self.PlotTypeLine, self.MarkerStyleNone, (0.0, 0.0, 0.0)

    def SetAndObserveTableNodeID(self, node_id) -> None:
        self.SetNodeReferenceID("table", node_id)

    def GetTableNode(self):
        return self.GetNodeReference("table")

    def GetTableNodeID(self):
        return self.GetNodeReferenceID("table")

    def SetXColumnName(self, name: str) -> None:
        self._x = name

    def GetXColumnName(self) -> str:
        return self._x

    def SetYColumnName(self, name: str) -> None:
        self._y = name

    def GetYColumnName(self) -> str:
        return self._y

    def SetPlotType(self, plot_type: int) -> None:
        self._plot_type = plot_type

    def GetPlotType(self) -> int:
        return self._plot_type

    def SetMarkerStyle(self, style: int) -> None:
        self._marker = style

    def GetMarkerStyle(self) -> int:
        return self._marker

    def SetColor(self, *rgb) -> None:
        self._color = tuple(float(c) for c in (rgb[0] if len(rgb) == 1 else rgb))

    def GetColor(self) -> tuple:
        return self._color


@register
class vtkMRMLPlotChartNode(vtkMRMLNode):
    def __init__(self) -> None:
        super().__init__()
        self._titles = {"": "", "x": "", "y": ""}

    def AddAndObservePlotSeriesNodeID(self, node_id: str) -> None:
        self.AddNodeReferenceID("plotSeries", node_id)

    def GetNumberOfPlotSeriesNodes(self) -> int:
        return self.GetNumberOfNodeReferences("plotSeries")

    def GetNthPlotSeriesNode(self, n: int):
        return self.GetScene().GetNodeByID(self._references["plotSeries"][n])

    def SetTitle(self, title: str) -> None:
        self._titles[""] = title

    def GetTitle(self) -> str:
        return self._titles[""]

    def SetXAxisTitle(self, title: str) -> None:
        self._titles["x"] = title

    def GetXAxisTitle(self) -> str:
        return self._titles["x"]

    def SetYAxisTitle(self, title: str) -> None:
        self._titles["y"] = title

    def GetYAxisTitle(self) -> str:
        return self._titles["y"]
