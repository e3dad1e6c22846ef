"""Data nodes of the double: display, volume and transform nodes.

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
