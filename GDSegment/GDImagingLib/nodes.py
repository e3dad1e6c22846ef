"""Volume and transform nodes <-> gdbackend `Volume`s and ITK transform files.

RAS/LPS and IJK-to-RAS conversions are gdbackend's (`Volume.ijk_to_ras`, `Volume.from_ijk_to_ras`);
this file only moves arrays and matrices between them and MRML nodes.
"""
from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import slicer
import vtk

from gdbackend.errors import InputError
from gdbackend.volume import LPS_TO_RAS, Volume


def volumeFromNode(volumeNode, squeeze2D: bool = True, world: bool = False, frame: np.ndarray | None = None) -> Volume:
    """The node's voxels (a copy) and geometry; a single axial slice becomes a 2D image.

    Args:
        squeeze2D: a single axial slice becomes a 2D image.
        world: geometry in world RAS, through the node's (linear) parent transforms, as the views show it;
            otherwise in the node's own frame.
        frame: 4x4 RAS matrix from the node's own frame to the one the geometry is given in (instead of
            `world`): a registration's moving volume placed by an initial transform.
    """
    if volumeNode is None or volumeNode.GetImageData() is None:
        raise InputError("Select a volume that has image data.")
    array = slicer.util.arrayFromVolume(volumeNode).copy()
    matrix = vtk.vtkMatrix4x4()
    volumeNode.GetIJKToRASMatrix(matrix)
    ijkToRas = slicer.util.arrayFromVTKMatrix(matrix)
    if frame is not None or world:
        ijkToRas = (frame if frame is not None else toWorldMatrix(volumeNode)) @ ijkToRas
    if squeeze2D and array.shape[0] == 1 and np.allclose(ijkToRas[:2, 2], 0) and np.allclose(ijkToRas[2, :2], 0):
        return Volume.from_ijk_to_ras(array[0], ijkToRas)  # k and z stay 0; the slice's z is restored on return
    return Volume.from_ijk_to_ras(array, ijkToRas)


def toWorldMatrix(node) -> np.ndarray:
    """4x4 RAS matrix from the node's frame to the world through its parent transforms (identity without one);
    a non-linear parent is refused, since the job's copy of the image could not carry it."""
    parent = node.GetParentTransformNode()
    if parent is None:
        return np.eye(4)
    if not parent.IsTransformToWorldLinear():
        raise InputError(f"{node.GetName()} is under the non-linear transform {parent.GetName()}: harden it first "
                         "(Transforms module, Harden transform) or remove it, then run again.")
    matrix = vtk.vtkMatrix4x4()
    parent.GetMatrixTransformToWorld(matrix)
    return slicer.util.arrayFromVTKMatrix(matrix)


def placeUnder(node, referenceNode) -> None:
    """Put a result node under the same parent transform as the input it was computed from (in that input's
    frame), so it stays on the input when the user moves the input's transform."""
    node.SetAndObserveTransformNodeID(referenceNode.GetTransformNodeID())


def updateNodeFromVolume(volumeNode, volume: Volume, sliceZ: float | None = None) -> None:
    """Voxels and geometry of `volume` into an existing volume node (int64 labels are cast to int32)."""
    array = volume.array.astype(np.int32) if volume.array.dtype in (np.int64, np.uint64) else volume.array
    # a single slice goes in as a one-slice 3D array: slicer.util widens a 2D array to float64
    slicer.util.updateVolumeFromArray(volumeNode, array[None] if array.ndim == 2 else array)
    volumeNode.SetIJKToRASMatrix(slicer.util.vtkMatrixFromArray(_ijkToRas(volume, sliceZ)))
    volumeNode.CreateDefaultDisplayNodes()


def addVolumeNode(volume: Volume, name: str, className: str = "vtkMRMLScalarVolumeNode", sliceZ: float | None = None):
    node = slicer.mrmlScene.AddNewNodeByClass(className, name)
    updateNodeFromVolume(node, volume, sliceZ)
    return node


def sliceZ(volumeNode) -> float:
    """RAS z of a node's first slice (kept for 2D images, which gdbackend places at z = 0)."""
    matrix = vtk.vtkMatrix4x4()
    volumeNode.GetIJKToRASMatrix(matrix)
    return matrix.GetElement(2, 3)


def _ijkToRas(volume: Volume, sliceZ: float | None) -> np.ndarray:
    m = volume.ijk_to_ras()
    if volume.ndim == 2 and sliceZ is not None:
        m[2, 3] = sliceZ
    return m


def writeVolume(volumeNode, path: Path) -> Path:
    """Write a node as an image file a backend job reads, in its own frame (a single axial slice as 2D)."""
    return volumeFromNode(volumeNode).write(path)


def linearMatrixFromFile(path: Path) -> np.ndarray:
    """4x4 LPS matrix of a linear ITK transform file (fixed point -> moving point); 2D files embed in 3D."""
    import SimpleITK as sitk
    transform = sitk.ReadTransform(str(path))
    d = transform.GetDimension()
    origin = np.array(transform.TransformPoint((0.0,) * d))
    m = np.eye(4)
    m[:d, 3] = origin
    for axis in range(d):
        m[:d, axis] = np.array(transform.TransformPoint(tuple(np.eye(d)[axis]))) - origin
    return m


def setLinearTransformFromITK(transformNode, matrixLPS: np.ndarray, toMovingFrame: np.ndarray | None = None) -> None:
    """An ITK resampling matrix (LPS) as the node's transform FROM parent, in RAS (CONVENTIONS 8).

    The moving volume placed under this node then appears aligned with the fixed one. `toMovingFrame` (4x4 RAS)
    maps the world the moving volume was registered in to its own frame (the inverse of a transform it was
    under), composed after the registration's mapping.
    """
    ras = LPS_TO_RAS @ matrixLPS @ LPS_TO_RAS
    if toMovingFrame is not None:
        ras = toMovingFrame @ ras
    transformNode.SetMatrixTransformFromParent(slicer.util.vtkMatrixFromArray(ras))


def readTransformFile(path: Path, transformNode) -> None:
    """Read an ITK transform file into an existing node with Slicer's own transform reader. The storage node is
    not kept: the file is a job's, removed once the result is in the scene."""
    storage = slicer.vtkMRMLTransformStorageNode()
    storage.SetFileName(str(path))
    if not storage.ReadData(transformNode):
        raise OSError(f"Slicer could not read the transform file {Path(path).name}.")


def transformNodeOfClass(node, className: str, name: str):
    """`node` when it has the class a result needs, else a new node of that class."""
    if node is not None and node.GetClassName() == className:
        return node
    return slicer.mrmlScene.AddNewNodeByClass(className, slicer.mrmlScene.GenerateUniqueName(name))


def sceneNodeIDs() -> set[str]:
    scene = slicer.mrmlScene
    return {scene.GetNthNode(i).GetID() for i in range(scene.GetNumberOfNodes())}


def removeNodesAddedSince(before: set[str]) -> None:
    scene = slicer.mrmlScene
    added = [scene.GetNthNode(i) for i in range(scene.GetNumberOfNodes())]
    for node in reversed([n for n in added if n.GetID() not in before]):  # display nodes before their owners
        if scene.IsNodePresent(node):
            scene.RemoveNode(node)


@contextlib.contextmanager
def scratchNodes():
    """Every node added to the scene inside the block is removed at its end, with the display, storage and
    colour nodes Slicer made for it."""
    before = sceneNodeIDs()
    try:
        yield
    finally:
        removeNodesAddedSince(before)
