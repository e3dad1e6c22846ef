"""Slicer's segmentation files (.seg.nrrd) as label maps: what a Segment Editor user saves.

A .seg.nrrd is an NRRD volume whose header names each segment (SegmentN_Name, _Color) and says where its voxels
are: the value they hold (SegmentN_LabelValue) in which layer (SegmentN_Layer). Segments that overlap are
stored in separate layers, as a list axis that SimpleITK reads as the components of a vector image. The values
are the file's own (Slicer numbers segments 1, 2, ... within each layer whatever they stand for), so a segment is
mapped to a label by its name; where segments overlap, the later one wins, as Slicer's export to a label map does.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk

from .errors import InputError
from .volume import SEGMENTATION_SUFFIX, Volume, write_atomic


def is_segmentation_file(path: str | Path) -> bool:
    return str(path).lower().endswith(SEGMENTATION_SUFFIX)


def segments_of(path: str | Path) -> list[dict]:
    """The segments a .seg.nrrd names, in file order, from its header alone: name, colour (r, g, b in 0-1),
    layer and value.

    Args:
        path: the .seg.nrrd file.
    """
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError:
        raise InputError(f"Cannot read {path} as a Slicer segmentation: save it again from Slicer, or export the "
                         "segments to a label map (.nii.gz).") from None
    meta = {key: reader.GetMetaData(key) for key in reader.GetMetaDataKeys()}
    several = reader.GetNumberOfComponents() > 1   # files of Slicer before 4.11 hold one component per segment
    segments = []
    while f"Segment{len(segments)}_Name" in meta:
        n = len(segments)
        color = [float(c) for c in meta.get(f"Segment{n}_Color", "").split()[:3]]
        segments.append({"name": meta[f"Segment{n}_Name"].strip(), "color": color if len(color) == 3 else None,
                         "layer": int(meta.get(f"Segment{n}_Layer", n if several else 0)),
                         "value": int(meta.get(f"Segment{n}_LabelValue", 1))})
    if not segments:
        raise InputError(f"{path} names no segments: segment the image in Slicer and save the segmentation again.")
    return segments


def labels_of(paths: list[Path]) -> list[dict]:
    """A label list (value, name, colour) for the segments that the .seg.nrrd files name: values 1, 2, ... in the
    order their names first appear, each file's colour for its segments; what `--labels` would otherwise say."""
    labels: dict[str, dict] = {}
    for path in paths:
        if not is_segmentation_file(path):
            raise InputError(f"{Path(path).name} is a label map without segment names: give the labels as "
                             "VALUE:NAME (--labels \"1:brain\"), or save Slicer segmentations (.seg.nrrd).")
        for s in segments_of(path):
            if s["name"] not in labels:
                labels[s["name"]] = {"value": len(labels) + 1, "name": s["name"], "color": s["color"]}
    return [lb if lb["color"] else {k: v for k, v in lb.items() if k != "color"} for lb in labels.values()]


def read_label_map(path: str | Path, labels: list[dict]) -> Volume:
    """The .seg.nrrd's segments as one label map: each segment's voxels hold the value `labels` gives its name.

    Args:
        path: the .seg.nrrd file.
        labels: the label list ({"value", "name"} each) whose names the segments must carry.
    """
    segments = segments_of(path)
    value_of = {lb["name"]: lb["value"] for lb in labels}
    unknown = [s["name"] for s in segments if s["name"] not in value_of]
    if unknown:
        raise InputError(f"{Path(path).name} has segment(s) {unknown} that the label list {list(value_of)} does not "
                         "name: add them as VALUE:NAME with the segment's name, or remove them in Slicer.")
    image = sitk.ReadImage(str(path))
    array = sitk.GetArrayFromImage(image)
    layers = array[None] if image.GetNumberOfComponentsPerPixel() == 1 else np.moveaxis(array, -1, 0)
    out = np.zeros(layers.shape[1:], np.uint8 if max(value_of.values()) < 256 else np.int32)
    for s in segments:
        if s["layer"] >= len(layers):
            raise InputError(f"{Path(path).name}: segment {s['name']!r} is in layer {s['layer']}, but the file holds "
                             f"{len(layers)}: save the segmentation again from Slicer.")
        out[layers[s["layer"]] == s["value"]] = value_of[s["name"]]
    d = image.GetDimension()
    return Volume(out, image.GetSpacing(), image.GetOrigin(), np.array(image.GetDirection()).reshape(d, d))


def read_label(path: str | Path, labels: list[dict] | None = None) -> Volume:
    """A label map file, or a Slicer segmentation whose segments take the values `labels` gives their names (none:
    its own segments, numbered 1, 2, ... in file order).

    Args:
        path: a label map (.nii.gz, .nrrd, ...) or a .seg.nrrd.
        labels: the label list ({"value", "name"} each) for a .seg.nrrd.
    """
    if not is_segmentation_file(path):
        return Volume.read(path)
    if not Path(path).is_file():        # Volume.read hands .seg.nrrd files here: it cannot be the one to check
        raise InputError(f"File not found: {path}. Check the path and the file name.")
    return read_label_map(path, labels if labels is not None else labels_of([Path(path)]))


def write_segmentation(label: Volume, labels: list[dict], path: str | Path) -> Path:
    """A label map as a .seg.nrrd that Slicer opens as a segmentation with each label's name and colour: one
    layer, each label's voxels holding its value. A 2D label map is written as one slice (Slicer's
    segmentations are 3D).

    Args:
        label: the label map (0: background).
        labels: the labels ({"value", "name"[, "color"]} each) that become segments, in this order.
        path: the file to write, ending in .seg.nrrd (written atomically).
    """
    if label.ndim == 2:
        direction = np.eye(3)
        direction[:2, :2] = label.direction
        label = Volume(label.array[None], (*label.spacing, 1.0), (*label.origin, 0.0), direction)
    image = label.with_array(label.array.astype(np.uint8 if label.array.max() < 256 else np.uint16)).to_sitk()
    image.SetMetaData("Segmentation_MasterRepresentation", "Binary labelmap")
    image.SetMetaData("Segmentation_ContainedRepresentationNames", "Binary labelmap|")
    image.SetMetaData("Segmentation_ReferenceImageExtentOffset", "0 0 0")
    for n, lb in enumerate(labels):
        where = np.nonzero(label.array == lb["value"])
        # the segment's extent as Slicer writes it, i0 i1 j0 j1 k0 k1; an empty segment's is empty (first > last)
        extent = [f"{a.min()} {a.max()}" if a.size else "0 -1" for a in where[::-1]]
        fields = {"ID": f"Segment_{lb['value']}", "Name": lb["name"], "LabelValue": str(lb["value"]), "Layer": "0",
                  "Extent": " ".join(extent),
                  "Color": " ".join(f"{c:.6g}" for c in lb.get("color") or (0.5, 0.5, 0.5))}
        for key, value in fields.items():
            image.SetMetaData(f"Segment{n}_{key}", value)
    return write_atomic(Path(path), lambda tmp: sitk.WriteImage(image, str(tmp), True))
