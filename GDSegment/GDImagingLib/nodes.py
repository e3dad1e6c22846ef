"""Volume and transform nodes <-> gdbackend `Volume`s and ITK transform files.

RAS/LPS and IJK-to-RAS conversions are gdbackend's (`Volume.ijk_to_ras`, `Volume.from_ijk_to_ras`);
this file only moves arrays and matrices between them and MRML nodes.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import slicer
import vtk

from gdbackend.errors import InputError
from gdbackend.volume import LPS_TO_RAS, Volume


def volumeFromNode(volumeNode, squeeze2D: bool = True) -> Volume:
    """The node's voxels (a copy) and geometry; a single axial slice becomes a 2D image."""
    if volumeNode is None or volumeNode.GetImageData() is None:
        raise InputError("Select a volume that has image data.")
    array = slicer.util.arrayFromVolume(volumeNode).copy()
    matrix = vtk.vtkMatrix4x4()
    volumeNode.GetIJKToRASMatrix(matrix)
    ijkToRas = slicer.util.arrayFromVTKMatrix(matrix)
    if squeeze2D and array.shape[0] == 1 and np.allclose(ijkToRas[:2, 2], 0) and np.allclose(ijkToRas[2, :2], 0):
        return Volume.from_ijk_to_ras(array[0], ijkToRas)  # k and z stay 0; the slice's z is restored on return
    return Volume.from_ijk_to_ras(array, ijkToRas)


def updateNodeFromVolume(volumeNode, volume: Volume, sliceZ: float | None = None) -> None:
    """Voxels and geometry of `volume` into an existing volume node (int64 labels are cast to int32)."""
    array = volume.array.astype(np.int32) if volume.array.dtype in (np.int64, np.uint64) else volume.array
    slicer.util.updateVolumeFromArray(volumeNode, array)
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
    """Write a node as an image file a backend job reads."""
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


def displacementFieldFile3D(path: Path, sliceZ: float) -> Path:
    """A 2D displacement-field transform file (single-slice registration) as a one-slice 3D field at RAS z
    `sliceZ`, which Slicer loads as a grid transform; 3D files are returned as they are."""
    import SimpleITK as sitk
    transform = sitk.ReadTransform(str(path))
    if transform.GetDimension() == 3:
        return Path(path)
    field = sitk.DisplacementFieldTransform(transform).GetDisplacementField()
    array = sitk.GetArrayFromImage(field)                     # (J, I, 2), LPS mm
    volume = np.concatenate([array, np.zeros(array.shape[:2] + (1,))], axis=-1)[None]
    image = sitk.GetImageFromArray(volume.astype(np.float64), isVector=True)
    direction = np.eye(3)
    direction[:2, :2] = np.array(field.GetDirection()).reshape(2, 2)
    image.SetSpacing((*field.GetSpacing(), 1.0))
    image.SetOrigin((*field.GetOrigin(), sliceZ))             # z is the same in LPS and RAS
    image.SetDirection(direction.ravel().tolist())
    out = Path(path).with_name(Path(path).stem + "3d.h5")
    sitk.WriteTransform(sitk.DisplacementFieldTransform(image), str(out))
    return out


def setLinearTransformFromITK(transformNode, matrixLPS: np.ndarray) -> None:
    """An ITK resampling matrix (LPS) as the node's transform FROM parent, in RAS (CONVENTIONS 8).

    The moving volume placed under this node then appears aligned with the fixed one.
    """
    ras = LPS_TO_RAS @ matrixLPS @ LPS_TO_RAS
    transformNode.SetMatrixTransformFromParent(slicer.util.vtkMatrixFromArray(ras))


def transformNodeOfClass(node, className: str, name: str):
    """`node` when it has the class a result needs, else a new node of that class."""
    if node is not None and node.GetClassName() == className:
        return node
    return slicer.mrmlScene.AddNewNodeByClass(className, slicer.mrmlScene.GenerateUniqueName(name))
