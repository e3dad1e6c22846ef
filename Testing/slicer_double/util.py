"""`slicer.util` of the double: the functions the GD modules call, with Slicer's signatures.

Module-level helpers are private (underscore) so that every public name is a real slicer.util name.
"""
from __future__ import annotations

import contextlib as _contextlib
import os as _os
import tempfile as _tempfile
import time as _time
from pathlib import Path as _Path

import numpy as _np
import SimpleITK as _sitk
import vtk as _vtk
from vtk.util import numpy_support as _ns

_messages: list[tuple[str, str]] = []  # (kind, text) that Slicer would show to the user


def _slicer():
    import slicer
    return slicer


class MRMLNodeNotFoundException(Exception):
    pass


class NodeModify:
    def __init__(self, node) -> None:
        self.node = node

    def __enter__(self):
        self.wasModifying = self.node.StartModify()
        return self.node

    def __exit__(self, type, value, traceback):
        self.node.EndModify(self.wasModifying)


class VTKObservationMixin:
    def __init__(self) -> None:
        self.Observations = []

    def addObserver(self, obj, event, method, group="none", priority=0.0):
        tag = obj.AddObserver(event, method, priority)
        self.Observations.append([obj, event, method, group, tag, priority])

    def removeObserver(self, obj, event, method):
        for o in [o for o in self.Observations if o[:3] == [obj, event, method]]:
            obj.RemoveObserver(o[4])
            self.Observations.remove(o)

    def removeObservers(self, method=None):
        for o in [o for o in self.Observations if method is None or o[2] == method]:
            o[0].RemoveObserver(o[4])
            self.Observations.remove(o)

    def hasObserver(self, obj, event, method):
        return any(o[:3] == [obj, event, method] for o in self.Observations)


# ------------------------------------------------------------------ nodes
def getNode(pattern="*", index=0, scene=None):
    scene = scene or _slicer().mrmlScene
    node = scene.GetNodeByID(pattern) or scene.GetFirstNodeByName(pattern)
    if node is None:
        raise MRMLNodeNotFoundException(f"could not find nodes in the scene by name or id '{pattern}'")
    return node


def getFirstNodeByClassByName(className, name, scene=None):
    scene = scene or _slicer().mrmlScene
    return next((n for i in range(scene.GetNumberOfNodesByClass(className))
                 if (n := scene.GetNthNodeByClass(i, className)).GetName() == name), None)


# ------------------------------------------------------------------ volumes
def arrayFromVolume(volumeNode):
    if volumeNode.GetClassName() not in ("vtkMRMLScalarVolumeNode", "vtkMRMLLabelMapVolumeNode"):
        raise RuntimeError("Unsupported volume type: " + volumeNode.GetClassName())
    image = volumeNode.GetImageData()
    return _ns.vtk_to_numpy(image.GetPointData().GetScalars()).reshape(tuple(reversed(image.GetDimensions())))


def arrayFromVolumeModified(volumeNode):
    volumeNode.GetImageData().GetPointData().GetScalars().Modified()
    volumeNode.GetImageData().Modified()
    volumeNode.InvokeEvent(volumeNode.ImageDataModifiedEvent)
    volumeNode.StorableModified()


def updateVolumeFromArray(volumeNode, narray):
    narray = _np.asarray(narray)
    if narray.dtype in (_np.int64, _np.uint64):
        raise RuntimeError("Could not create VTK array from numpy array of type int64/uint64 "
                           "(VTK_LONG_LONG is not supported for volumes): cast it first.")
    shape = narray.shape if narray.ndim == 3 else (1,) + narray.shape
    image = _vtk.vtkImageData()
    image.SetDimensions(shape[2], shape[1], shape[0])
    scalars = _ns.numpy_to_vtk(_np.ascontiguousarray(narray).ravel(), deep=True)
    image.GetPointData().SetScalars(scalars)
    volumeNode.SetAndObserveImageData(image)


def addVolumeFromArray(narray, ijkToRAS=None, name=None, nodeClassName=None):
    node = _slicer().mrmlScene.AddNewNodeByClass(nodeClassName or "vtkMRMLScalarVolumeNode", name or "")
    updateVolumeFromArray(node, narray)
    if ijkToRAS is not None:
        node.SetIJKToRASMatrix(ijkToRAS if isinstance(ijkToRAS, _vtk.vtkMatrix4x4) else vtkMatrixFromArray(ijkToRAS))
    node.CreateDefaultDisplayNodes()
    return node


# ------------------------------------------------------------------ matrices and transforms
def arrayFromVTKMatrix(vmatrix):
    n = 4 if isinstance(vmatrix, _vtk.vtkMatrix4x4) else 3
    return _np.array([[vmatrix.GetElement(r, c) for c in range(n)] for r in range(n)])


def updateVTKMatrixFromArray(vmatrix, narray):
    for r in range(narray.shape[0]):
        for c in range(narray.shape[1]):
            vmatrix.SetElement(r, c, float(narray[r, c]))


def vtkMatrixFromArray(narray):
    narray = _np.asarray(narray, float)
    vmatrix = _vtk.vtkMatrix4x4() if narray.shape == (4, 4) else _vtk.vtkMatrix3x3()
    updateVTKMatrixFromArray(vmatrix, narray)
    return vmatrix


def arrayFromTransformMatrix(transformNode, toWorld=False):
    matrix = _vtk.vtkMatrix4x4()
    if not transformNode.GetMatrixTransformToParent(matrix):
        raise RuntimeError("Failed to get transformation matrix from node " + transformNode.GetID())
    return arrayFromVTKMatrix(matrix)


def updateTransformMatrixFromArray(transformNode, narray, toWorld=False):
    transformNode.SetMatrixTransformToParent(vtkMatrixFromArray(narray))


def loadTransform(filename, returnNode=False):
    """ITK transform file -> transform node holding it "from parent" in RAS, as Slicer's reader does."""
    flip = _np.diag([-1.0, -1.0, 1.0])
    transform = _sitk.ReadTransform(str(filename))
    if transform.GetTransformEnum() == _sitk.sitkComposite:
        transform = _sitk.CompositeTransform(transform).GetNthTransform(0)
    scene = _slicer().mrmlScene
    if transform.GetTransformEnum() == _sitk.sitkDisplacementField:
        node = scene.AddNewNodeByClass("vtkMRMLGridTransformNode", _Path(filename).name.split(".")[0])
        node.SetAndObserveTransformFromParent(_grid_from_parent(_sitk.DisplacementFieldTransform(transform), flip))
        return node
    origin = _np.array(transform.TransformPoint((0.0, 0.0, 0.0)))
    lps = _np.eye(4)
    lps[:3, 3] = origin
    for axis in range(3):
        lps[:3, axis] = _np.array(transform.TransformPoint(tuple(_np.eye(3)[axis]))) - origin
    to_ras = _np.diag([-1.0, -1.0, 1.0, 1.0])
    node = scene.AddNewNodeByClass("vtkMRMLLinearTransformNode", _Path(filename).name.split(".")[0])
    node.SetMatrixTransformFromParent(vtkMatrixFromArray(to_ras @ lps @ to_ras))
    return node


def _grid_from_parent(field: "_sitk.DisplacementFieldTransform", flip: _np.ndarray):
    """x_ras -> moving RAS point: flip to LPS, into the grid's axes, displace, back, flip to RAS."""
    image = field.GetDisplacementField()
    direction = _np.array(image.GetDirection()).reshape(3, 3)
    origin = _np.array(image.GetOrigin())
    displacement = _sitk.GetArrayFromImage(image) @ direction  # components along the grid axes
    grid_image = _vtk.vtkImageData()
    grid_image.SetDimensions(image.GetSize())
    grid_image.SetSpacing(image.GetSpacing())
    grid_image.SetOrigin(origin)
    grid_image.GetPointData().SetScalars(_ns.numpy_to_vtk(displacement.reshape(-1, 3).astype(_np.float64), deep=True))
    grid = _vtk.vtkGridTransform()
    grid.SetDisplacementGridData(grid_image)
    grid.SetInterpolationModeToLinear()

    def affine(m3, t):
        m = _np.eye(4)
        m[:3, :3], m[:3, 3] = m3, t
        t4 = _vtk.vtkTransform()
        t4.SetMatrix(vtkMatrixFromArray(m))
        return t4

    chain = _vtk.vtkGeneralTransform()
    chain.PostMultiply()
    for step in (affine(flip, 0), affine(direction.T, origin - direction.T @ origin), grid,
                 affine(direction, origin - direction @ origin), affine(flip, 0)):
        chain.Concatenate(step)
    return chain


# ------------------------------------------------------------------ segmentations
def updateSegmentBinaryLabelmapFromArray(narray, segmentationNode, segmentId, referenceVolumeNode=None):
    if referenceVolumeNode is None:
        raise RuntimeError("The double needs the reference volume node for segment labelmaps.")
    if segmentationNode.GetSegmentation().GetSegment(segmentId) is None:
        raise RuntimeError(f"Segment {segmentId} does not exist")
    segmentationNode._labelmaps[segmentId] = ((_np.asarray(narray) > 0).astype(_np.uint8),
                                             referenceVolumeNode._ijk_to_ras())
    segmentationNode.Modified()


def arrayFromSegmentBinaryLabelmap(segmentationNode, segmentId, referenceVolumeNode=None):
    mask, ijk_to_ras = segmentationNode._labelmaps[segmentId]
    if referenceVolumeNode is not None and not _np.allclose(ijk_to_ras, referenceVolumeNode._ijk_to_ras()):
        raise RuntimeError("The double cannot resample segments onto another geometry.")
    return mask.copy()


# ------------------------------------------------------------------ tables and plots
def updateTableFromArray(tableNode, narrays, columnNames=None, setBoolAsUchar=False):
    if tableNode is None:
        tableNode = _slicer().mrmlScene.AddNewNodeByClass("vtkMRMLTableNode")
    if isinstance(narrays, _np.ndarray) and narrays.ndim == 2:
        narrays = list(narrays.T)
    elif isinstance(narrays, _np.ndarray):
        narrays = [narrays]
    table = tableNode.GetTable()
    table.Initialize()
    for i, column in enumerate(narrays):
        array = _ns.numpy_to_vtk(_np.ascontiguousarray(column), deep=True)
        array.SetName(columnNames[i] if columnNames else f"Column {i}")
        table.AddColumn(array)
    tableNode.Modified()
    return tableNode


def arrayFromTableColumn(tableNode, columnName):
    return _ns.vtk_to_numpy(tableNode.GetTable().GetColumnByName(columnName))


def plot(narray, xColumnIndex=-1, columnNames=None, title=None, show=True, nodes=None, plotBoolAsUchar=False):
    scene = _slicer().mrmlScene
    nodes = {} if nodes is None else nodes
    narray = _np.asarray(narray, float)
    narray = narray.reshape(-1, 1) if narray.ndim == 1 else narray
    names = columnNames or [f"Column {i}" for i in range(narray.shape[1])]
    nodes["table"] = updateTableFromArray(nodes.get("table"), narray, names)
    if nodes.get("chart") is None:
        nodes["chart"] = scene.AddNewNodeByClass("vtkMRMLPlotChartNode", title or "Chart")
        nodes["series"] = []
        for i in range(narray.shape[1]):
            if i == xColumnIndex:
                continue
            series = scene.AddNewNodeByClass("vtkMRMLPlotSeriesNode", names[i])
            series.SetAndObserveTableNodeID(nodes["table"].GetID())
            if xColumnIndex >= 0:
                series.SetXColumnName(names[xColumnIndex])
            series.SetYColumnName(names[i])
            series.SetPlotType(series.PlotTypeScatter if xColumnIndex >= 0 else series.PlotTypeLine)
            nodes["chart"].AddAndObservePlotSeriesNodeID(series.GetID())
            nodes["series"].append(series)
    if title:
        nodes["chart"].SetTitle(title)
    return nodes["chart"]


# ------------------------------------------------------------------ user interaction (recorded, no GUI)
def tempDirectory(key="__SlicerTemp__", tempDir=None, includeDateTime=True):
    base = _Path(tempDir or _tempfile.gettempdir())
    name = f"{key}{_time.strftime('%Y%m%d_%H%M%S')}_{_os.getpid()}{_time.perf_counter_ns()}" if includeDateTime else key
    path = base / name
    path.mkdir(parents=True, exist_ok=True)
    return str(path)


@_contextlib.contextmanager
def tryWithErrorDisplay(message=None, show=True, waitCursor=False):
    try:
        yield
    except Exception as e:
        _messages.append(("error", f"{message}\n{e}" if message else str(e)))
        raise  # testing mode: Slicer re-raises after the (suppressed) error box


def errorDisplay(text, windowTitle=None, parent=None, standardButtons=None, **kwargs):
    _messages.append(("error", text))


def confirmOkCancelDisplay(text, windowTitle=None, parent=None, **kwargs):
    _messages.append(("confirm", text))
    return True


def showStatusMessage(message, duration=0):
    _messages.append(("status", message))


def delayDisplay(message, autoCloseMsec=1000, parent=None, **kwargs):
    _messages.append(("delay", message))


def setSliceViewerLayers(background="keep-current", foreground="keep-current", label="keep-current",
                         foregroundOpacity=None, labelOpacity=None, fit=False, rotateToVolumePlane=False):
    _messages.append(("layers", f"{background} {foreground}"))


def startupEnvironment():
    return dict(_os.environ)
