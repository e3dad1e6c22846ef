"""Result nodes of the double: segmentations (with vtkSegmentation/vtkSegment), markups ROI, tables, plots."""
from __future__ import annotations

import numpy as np
import vtk

from .mrml_core import vtkMRMLNode, vtkMRMLScene
from .mrml_nodes import vtkMRMLDisplayableNode, vtkMRMLStorableNode

register = vtkMRMLScene._register


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
