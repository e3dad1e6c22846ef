"""2D classification samples from 3D ones: the axial plane through a region's centre, for the 2D networks
(VGG) and for comparing 2D and 3D networks on the same lesions."""
from __future__ import annotations

import numpy as np

from ..boxes import image_box
from ..errors import InputError
from ..grids import centred_grid
from ..volume import Volume
from .data import Sample, load


def axial_plane(image: Volume, z: float) -> Volume:
    """The image's axial plane at LPS z (mm) as a 2D image on an LPS-aligned grid covering the image in plane,
    at its finest spacing. The whole plane is kept, so that normalisation sees the whole slice as it sees the
    whole scan in 3D."""
    extent = image_box(image)
    step = float(min(image.spacing))
    size = np.ceil((extent[3:5] - extent[:2]) / step).astype(int)
    center = [*(extent[:2] + extent[3:5]) / 2, z]
    plane = image.resample_to(centred_grid(np.array(center), (*size, 1), np.full(3, step)), "linear", default=0.0)
    return Volume(plane.array[0], (step, step), tuple(plane.origin[:2]))


def planar_samples(samples: list[Sample]) -> list[Sample]:
    """Each 3D sample with a box as the axial plane through the box's centre with the box's in-plane part."""
    out = []
    for s in samples:
        if s.box is None or len(s.box) != 6:
            raise InputError("A 2D sample is cut from a 3D sample with a box (x0 y0 z0 x1 y1 z1): give both.")
        plane = axial_plane(load(s.image), float(s.box[2] + s.box[5]) / 2)
        out.append(Sample(plane, s.label, np.asarray(s.box, float)[[0, 1, 3, 4]]))
    return out
