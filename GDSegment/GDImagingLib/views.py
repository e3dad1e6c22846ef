"""Results shown where users look for them, as Slicer's own modules show theirs: a segmentation over its
volume in the slice views and as a closed surface in 3D, lesion ROIs visible with a jump to each, the top
class of a probability table. MRML only (no Qt), so that the panel and the Python console share it."""
from __future__ import annotations

import slicer

LESION_ROLE = "GDImaging.lesion"  # table node -> the ROI of each row, in row order


def showVolume(volume) -> None:
    """The volume as the slice views' background, views fitted to it (as loading a volume does)."""
    slicer.util.setSliceViewerLayers(background=volume, fit=True)


def showSegmentation(segmentation, volume, show3D: bool = True) -> None:
    """The segmentation over its volume in the slice views and, with `show3D`, as a closed surface in 3D."""
    segmentation.CreateDefaultDisplayNodes()
    display = segmentation.GetDisplayNode()
    display.SetVisibility(True)
    display.SetVisibility2D(True)
    if show3D:
        segmentation.CreateClosedSurfaceRepresentation()
        display.SetVisibility3D(True)
    showVolume(volume)


def showRois(rois, volume=None) -> None:
    """Each ROI visible in the views (it is made with its display node); the views show its volume."""
    for roi in rois:
        roi.CreateDefaultDisplayNodes()
        roi.GetDisplayNode().SetVisibility(True)
    if volume is not None:
        showVolume(volume)


def linkRowsToNodes(table, rowNodes) -> None:
    """Remember which node each row of a results table describes (saved with the scene, in row order)."""
    table.RemoveNodeReferenceIDs(LESION_ROLE)
    for node in rowNodes:
        table.AddNodeReferenceID(LESION_ROLE, node.GetID())


def rowNode(table, row: int):
    """The node a table row describes (see linkRowsToNodes), or None."""
    if table is None or not 0 <= row < table.GetNumberOfNodeReferences(LESION_ROLE):
        return None
    return table.GetNthNodeReference(LESION_ROLE, row)


def jumpToRoi(roi) -> list[float]:
    """Centre every slice view on the ROI (in world coordinates, through its parent transforms); returns the
    point."""
    center = [0.0, 0.0, 0.0]
    roi.GetCenterWorld(center)
    slicer.vtkMRMLSliceNode.JumpAllSlices(slicer.mrmlScene, *center, slicer.vtkMRMLSliceNode.CenteredJumpSlice)
    return center


def topClass(table) -> tuple[str, float] | None:
    """(class, probability) of the most probable row of a classify table; None for an empty table."""
    rows = [(table.GetCellText(r, 0), float(table.GetCellText(r, 1))) for r in range(table.GetNumberOfRows())]
    return max(rows, key=lambda row: row[1]) if rows else None
