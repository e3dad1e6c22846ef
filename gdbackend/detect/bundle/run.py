"""A detection bundle run as the zoo's evaluator runs it, on an image GDImaging has already read.

The image enters as the MetaTensor MONAI's LoadImaged would make of the same file, goes through the bundle's
own preprocessing objects (Orientationd, Spacingd, the intensity chain), then, as the zoo's RetinaNetInferer and
DetectionEvaluator do, to the detector as a one-image list, through its sliding window only when the image
holds at least a window's voxels (or the bundle forces the window), under autocast where the evaluator asks
for it; the detector's boxes, labels and scores, with the preprocessed image, go through the bundle's
postprocessing (ClipBoxToImaged, AffineBoxToWorldCoordinated, ConvertBoxModed). The boxes it leaves are then
read in the box mode and world frame that postprocessing put them in, as [x0, y0, z0, x1, y1, z1] LPS mm.
"""
from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ...device import model_on, with_memory_fallback
from ...errors import ModelError
from ...segment.bundle_run import first_loader, inferer_with, loaded_case, without_io
from ...volume import Volume

LPS_TO_RAS = np.array([-1.0, -1.0, 1.0])
Boxes = tuple[np.ndarray, np.ndarray, np.ndarray]


class BundleDetector(torch.nn.Module):
    """A bundle's RetinaNetDetector with its transform chains: `detect` gives an image's boxes in LPS mm.

    Args:
        detector: the bundle's detector, its network's weights loaded and the bundle's settings made.
        parts: the bundle's instantiated "preprocessing" and "postprocessing".
        amp: whether the bundle's evaluator runs under autocast (on a GPU).
        force_window: the bundle's inferer slides its window over every image, not only over those that hold
            at least a window's voxels.
    """

    def __init__(self, detector: torch.nn.Module, parts: dict, amp: bool, force_window: bool) -> None:
        super().__init__()
        self.detector, self.amp, self.force_window = detector, amp, force_window
        self.preprocessing, self.postprocessing = parts["preprocessing"], parts.get("postprocessing")
        self.inferer = detector.inferer  # GDImaging's copies of it change only the windows per network call
        self.loader = first_loader(self.preprocessing)
        self.key = "image"  # the key the zoo's evaluator hands the detector
        if self.loader is not None and list(self.loader.keys) != [self.key]:
            raise ModelError(f"The bundle reads {list(self.loader.keys)}: GDImaging detects in one \"image\" per case.")

    def forward(self, x: torch.Tensor):
        return self.detector.network(x)

    def detect(self, image: Volume, report: Callable[[str], None] | None = None,
               file: str | Path | None = None) -> Boxes:
        """(boxes (n, 6) [x0, y0, z0, x1, y1, z1] LPS mm, scores (n,), labels (n,) class indices) of one image,
        best first. With the image's `file`, the bundle's own LoadImaged reads it (exactly MONAI's grid); out of
        memory, fewer windows go through at a time, then the CPU takes over, which `report` hears of."""
        data = without_io(self.preprocessing)(loaded_case(self.loader, [self.key], [image], [file] if file else None))
        x = data[self.key]
        found = with_memory_fallback(lambda on, batch: self._infer(x, on, batch), self._device(), self._batch(),
                                     report)
        item = {**found, self.key: x}  # the zoo's evaluator hands the postprocessing each image with its boxes
        return self._lps(without_io(self.postprocessing)(item) if self.postprocessing else item, x)

    def _infer(self, x: torch.Tensor, on: torch.device, batch: int) -> dict:
        """The detector's output for `x`, as the zoo's RetinaNetInferer gets it: through the sliding window only
        when forced or when `x` holds at least a window's voxels."""
        detector = self.detector
        detector.inferer = inferer_with(self.inferer, None, batch) if self.inferer is not None else None
        detector.anchors = None  # cached per image shape, on the device of the last run
        roi = getattr(self.inferer, "roi_size", None)
        windows = self.force_window or (roi is not None and x[0].numel() >= math.prod(roi))
        with model_on(detector.network, on):
            amp = torch.autocast("cuda") if self.amp and on.type == "cuda" else contextlib.nullcontext()
            with torch.no_grad(), amp:
                found = detector([x.to(on)], use_inferer=windows)[0]
        return {k: v.detach().cpu() for k, v in found.items()}

    def _device(self) -> torch.device:
        return next(self.detector.network.parameters()).device

    def _batch(self) -> int:
        return int(getattr(self.inferer, "sw_batch_size", 1))

    def _lps(self, item: dict, image) -> Boxes:
        from monai.data.box_utils import convert_box_mode
        detector = self.detector
        boxes, scores = item[detector.target_box_key], item[detector.pred_score_key]
        labels = item[detector.target_label_key]
        if not len(boxes) == len(scores) == len(labels):
            raise ModelError("The bundle's postprocessing dropped boxes but not their scores or labels: list the "
                             f"score key {detector.pred_score_key!r} among ClipBoxToImaged's label_keys.")
        mode, world, flipped = box_frame(self.postprocessing, detector.target_box_key)
        if not world:  # boxes left on the model grid: to the world as AffineBoxToWorldCoordinated would map them
            from monai.apps.detection.transforms.dictionary import AffineBoxToWorldCoordinated
            standard = convert_box_mode(boxes, src_mode=mode, dst_mode="xyzxyz")
            boxes = AffineBoxToWorldCoordinated("box", "image")({"box": standard, "image": image})["box"]
            mode, flipped = "xyzxyz", False
        corners = np.asarray(convert_box_mode(torch.as_tensor(np.asarray(boxes), dtype=torch.float64),
                                              src_mode=mode, dst_mode="xyzxyz")).reshape(-1, 6)
        space = str(image.meta.get("space", "RAS")) if hasattr(image, "meta") else "RAS"
        if (space == "RAS") != flipped:  # world coordinates in RAS: to LPS, where x and y turn, so do their corners
            low, high = corners[:, :3] * LPS_TO_RAS, corners[:, 3:] * LPS_TO_RAS
            corners = np.concatenate([np.minimum(low, high), np.maximum(low, high)], 1)
        scores = np.asarray(scores, float)
        order = np.argsort(-scores, kind="stable")
        return corners[order], scores[order], np.asarray(labels, int)[order]


def box_frame(postprocessing, key: str) -> tuple[object, bool, bool]:
    """(box mode, whether in world coordinates, whether the world frame is the image's flipped between RAS and
    LPS) of the boxes under `key` after the bundle's postprocessing; the detector gives "xyzxyz" on its grid."""
    from monai.apps.detection.transforms.dictionary import (
        AffineBoxToImageCoordinated,
        AffineBoxToWorldCoordinated,
        ConvertBoxModed,
        ConvertBoxToStandardModed,
    )
    from monai.data.box_utils import StandardMode
    mode, world, flipped = "xyzxyz", False, False
    for t in _touching(postprocessing, key):
        if isinstance(t, ConvertBoxModed):
            mode = t.converter.dst_mode
        elif isinstance(t, ConvertBoxToStandardModed):
            mode = StandardMode
        elif isinstance(t, AffineBoxToWorldCoordinated):
            world, flipped = True, bool(t.affine_lps_to_ras)
        elif isinstance(t, AffineBoxToImageCoordinated):
            world, flipped = False, False
    return mode, world, flipped


def check_postprocessing(postprocessing, key: str) -> None:
    """Refuse a postprocessing that moves the boxes in ways GDImaging cannot follow back to the image (zooms,
    flips, rotations of the boxes): only mode changes, clipping and the image/world mappings are read."""
    from monai.apps.detection.transforms import dictionary as box
    known = (box.ConvertBoxModed, box.ConvertBoxToStandardModed, box.AffineBoxToImageCoordinated, box.ClipBoxToImaged,
             box.StandardizeEmptyBoxd)
    for t in _touching(postprocessing, key):
        if type(t).__module__.startswith("monai.apps.detection.transforms") and not isinstance(t, known):
            raise ModelError(f"The bundle's postprocessing moves the boxes with {type(t).__name__}, which GDImaging "
                             "cannot map back to the image: remove it from the bundle's postprocessing.")


def _touching(postprocessing, key: str) -> list:
    """The postprocessing's transforms (flattened) that read or write `key`."""
    from monai.transforms import Compose
    transforms = postprocessing.flatten().transforms if isinstance(postprocessing, Compose) else \
        [postprocessing] if postprocessing is not None else []
    return [t for t in transforms if key in tuple(getattr(t, "keys", ()))]
