"""Model input from an image and a region of interest: the whole image, a box (LPS mm) or a mask, resampled
onto a grid aligned with the LPS axes of the model's size (and spacing, when the model fixes one)."""
from __future__ import annotations

import numpy as np

from ..boxes import check_boxes, image_box, mask_box
from ..checks import check_mask
from ..errors import InputError
from ..grids import centred_grid, normalised
from ..volume import Volume


def roi_box(image: Volume, box: np.ndarray | None = None, mask: Volume | None = None,
            margin: float = 0.0) -> np.ndarray:
    """The physical box to classify: the given box, the mask's box plus `margin` mm, or the whole image."""
    if box is not None and mask is not None:
        raise InputError("Give a box or a mask as region of interest, not both.")
    if box is not None:
        return check_boxes(box, image)[0]
    if mask is not None:
        b = mask_box(image, check_mask(mask, image, "region-of-interest mask"))
        return b + np.concatenate([-np.full(image.ndim, margin), np.full(image.ndim, margin)])
    return image_box(image)


def roi_input(image: Volume, card: dict, box: np.ndarray | None = None, mask: Volume | None = None,
              prenormalised: bool = False) -> np.ndarray:
    """(1, *size) float32 network input; the model size and spacing (or region stretched to size) come from
    the model card (size in x, y[, z] order; spacing None = the region fills the size)."""
    if image.ndim != card["spatial_dims"]:
        raise InputError(f"The model is {card['spatial_dims']}D but the image is {image.ndim}D: "
                         "use a model trained on images like this one.")
    region = roi_box(image, box, mask, card.get("margin", 0.0))
    d = image.ndim
    size = np.asarray(card["size"])
    spacing = card.get("spacing") or (region[d:] - region[:d]) / size
    grid = centred_grid((region[:d] + region[d:]) / 2, tuple(size), np.asarray(spacing, float))
    source = image if prenormalised else normalised(image, card["normalisation"])
    return source.resample_to(grid, "linear", default=0.0).array[None].astype(np.float32)
