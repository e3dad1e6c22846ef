"""Backend results as the nodes Slicer users expect: named, coloured segments; ROI boxes; tables."""
from __future__ import annotations

import numpy as np
import slicer
import vtk

from gdbackend.errors import InputError
from gdbackend.volume import LPS_TO_RAS, Volume

from .nodes import scratchNodes, volumeFromNode


def updateSegmentationFromLabels(segmentationNode, labelVolume: Volume, labels: list[dict], referenceVolumeNode):
    """One segment per label ({"value", "name", "color"}) of a label image, on the reference volume's grid.

    The new segments are built beside the node's own and replace them only once all are made, so a failure
    half-way leaves the user's segments as they were; labels absent from the image still get an (empty)
    segment so that names and colours match the model's.
    """
    reference = volumeFromNode(referenceVolumeNode, squeeze2D=False)
    if labelVolume.ndim == 2 and reference.ndim == 3:
        labelVolume = Volume(labelVolume.array[None], (*labelVolume.spacing, reference.spacing[2]),
                             (*labelVolume.origin, reference.origin[2]), reference.direction)
    if not labelVolume.same_grid(reference):
        labelVolume = labelVolume.resample_to(reference, "nearest")
    segmentationNode.CreateDefaultDisplayNodes()
    with scratchNodes():
        staging = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLSegmentationNode", "GDImaging staging")
        labelmap = scratchLabelmap(referenceVolumeNode)
        for label in labels:
            segmentId = staging.GetSegmentation().AddEmptySegment(f"label_{label['value']}", label["name"],
                                                                  tuple(label["color"]))
            slicer.util.updateVolumeFromArray(labelmap, (labelVolume.array == label["value"]).astype(np.uint8))
            if not slicer.modules.segmentations.logic().ImportLabelmapToSegmentationNode(
                    labelmap, staging, _ids(segmentId)):
                raise RuntimeError(f"Slicer could not import segment {label['name']}.")
        segmentationNode.SetReferenceImageGeometryParameterFromVolumeNode(referenceVolumeNode)
        segmentationNode.SetNodeReferenceID(segmentationNode.GetReferenceImageGeometryReferenceRole(),
                                            referenceVolumeNode.GetID())
        segmentation = segmentationNode.GetSegmentation()
        segmentation.RemoveAllSegments()
        for i in range(staging.GetSegmentation().GetNumberOfSegments()):
            segmentation.CopySegmentFromSegmentation(staging.GetSegmentation(),
                                                     staging.GetSegmentation().GetNthSegmentID(i))
    return segmentationNode


def scratchLabelmap(referenceVolumeNode):
    """A label map node with the reference volume's geometry, for moving segments in and out of Slicer
    (use inside `scratchNodes`)."""
    node = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode", "GDImaging scratch")
    node.CopyOrientation(referenceVolumeNode)
    return node


def _ids(*segmentIds: str):
    ids = vtk.vtkStringArray()
    for segmentId in segmentIds:
        ids.InsertNextValue(segmentId)
    return ids


def labelsFromSegmentation(segmentationNode, referenceVolumeNode) -> tuple[Volume, list[dict]]:
    """A label image (segment i -> value i + 1) on the reference grid, with the segments' names and colours."""
    reference = volumeFromNode(referenceVolumeNode)  # 2D for a single slice, as the job gets the image
    segmentation = segmentationNode.GetSegmentation()
    if segmentation.GetNumberOfSegments() == 0:
        raise InputError(f"Segmentation {segmentationNode.GetName()} has no segments: paint at least one.")
    array = np.zeros(slicer.util.arrayFromVolume(referenceVolumeNode).shape, np.uint8)
    labels = []
    with scratchNodes():  # the label map, and the display node and colour table Slicer makes for it
        labelmap = scratchLabelmap(referenceVolumeNode)
        for i in range(segmentation.GetNumberOfSegments()):
            segmentId = segmentation.GetNthSegmentID(i)
            if not slicer.modules.segmentations.logic().ExportSegmentsToLabelmapNode(
                    segmentationNode, _ids(segmentId), labelmap, referenceVolumeNode):
                raise InputError(f"Slicer could not read segment {segmentId} of {segmentationNode.GetName()}.")
            array[slicer.util.arrayFromVolume(labelmap) > 0] = i + 1
            segment = segmentation.GetSegment(segmentId)
            labels.append({"value": i + 1, "name": segment.GetName(),
                           "color": [round(c, 3) for c in segment.GetColor()]})
    return reference.with_array(array.reshape(reference.array.shape)), labels


def roisFromBoxes(boxes: list[dict], name: str = "Lesion") -> list:
    """One markups ROI per box {"min_lps", "max_lps" (mm corners), "score"}, named with its score.

    The ROI is the RAS-axis-aligned box around the LPS box (the same box for axis-aligned volumes).
    """
    nodes = []
    for i, box in enumerate(boxes):
        corners = np.array([[x, y, z] for x in (box["min_lps"][0], box["max_lps"][0])
                            for y in (box["min_lps"][1], box["max_lps"][1])
                            for z in (box["min_lps"][2], box["max_lps"][2])])
        ras = corners * LPS_TO_RAS.diagonal()[:3]
        low, high = ras.min(axis=0), ras.max(axis=0)
        node = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLMarkupsROINode", f"{name} {i + 1} ({box['score']:.2f})")
        node.SetCenter(*((low + high) / 2))
        node.SetSize(*(high - low))
        node.SetAttribute("GDImaging.score", f"{box['score']:.6g}")
        nodes.append(node)
    return nodes


def updateTableFromRows(tableNode, rows: list[dict]):
    """Rows of {column: value} into a table node: text columns stay text, numbers become numbers."""
    tableNode = tableNode or slicer.mrmlScene.AddNewNodeByClass("vtkMRMLTableNode")
    columns = list(dict.fromkeys(k for row in rows for k in row))
    tableNode.RemoveAllColumns()
    for column in columns:
        numeric = all(isinstance(row.get(column), (int, float, np.number)) for row in rows)
        array = vtk.vtkDoubleArray() if numeric else vtk.vtkStringArray()
        array.SetName(column)
        tableNode.AddColumn(array)
    for row in rows:
        r = tableNode.AddEmptyRow()
        for c, column in enumerate(columns):
            value = row.get(column, "")
            tableNode.SetCellText(r, c, f"{value:.6g}" if isinstance(value, (float, np.floating)) else str(value))
    tableNode.Modified()
    return tableNode
