"""A MONAI bundle run as MONAI's SupervisedEvaluator runs it, on images GDImaging has already read.

The image enters as the MetaTensor MONAI's LoadImaged would make of the same file (x, y, z array, RAS affine),
then goes through the bundle's own transform objects (Orientationd, Spacingd, the intensity chain), collation,
the bundle's inferer, decollation and the bundle's postprocessing (activation, Invertd, AsDiscreted, label
merging, KeepLargestConnectedComponentd). Only file reading and writing (LoadImaged, SaveImaged) are left out:
GDImaging reads the images and writes the label map itself.
"""
from __future__ import annotations

import contextlib
import copy

import numpy as np
import torch

from ..device import model_on, with_memory_fallback
from ..errors import InputError, ModelError
from ..volume import Volume

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])
SW_BATCH = 4  # windows per network call unless the bundle says; halved on out-of-memory errors


class BundleModel(torch.nn.Module):
    """A bundle's network with its transform chain and inferer: `segment` gives the label map of a case.

    Args:
        network: the bundle's network, weights loaded.
        parts: the bundle's instantiated "preprocessing", "inferer" and "postprocessing".
        amp: whether the bundle's evaluator runs under autocast (on a GPU).
    """

    def __init__(self, network: torch.nn.Module, parts: dict, amp: bool) -> None:
        super().__init__()
        self.network, self.amp = network, amp
        self.preprocessing, self.inferer = parts["preprocessing"], parts.get("inferer")
        self.loader = first_loader(self.preprocessing)
        # the keys LoadImaged fills: one per input channel, or one key for all channels stacked
        self.keys = list(self.loader.keys) if self.loader is not None else ["image"]
        self.postprocessing = parts.get("postprocessing")
        if self.inferer is None:
            raise ModelError("The bundle defines no inferer: GDImaging runs bundles with a sliding-window inferer.")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network(x)

    def segment(self, images: list[Volume], flips: bool = False, overlap: float | None = None,
                report=None, files: list | None = None) -> np.ndarray:
        """The bundle's output for one case on the grid of images[0]: (C, z, y, x), as MONAI's pipeline saves it.
        With the images' `files`, the bundle's own LoadImaged reads them (loaded_case)."""
        data = without_io(self.preprocessing)(loaded_case(self.loader, self.keys, images, files))
        device = next(self.network.parameters()).device

        def run(on: torch.device, batch: int) -> dict:
            from monai.data import decollate_batch, list_data_collate
            inferer = inferer_with(self.inferer, overlap, batch)
            collated = list_data_collate([data])
            with model_on(self.network, on):
                x = collated["image"].to(on)  # what default_prepare_batch feeds the network
                amp = torch.autocast("cuda") if self.amp and on.type == "cuda" else contextlib.nullcontext()
                with torch.no_grad(), amp:
                    pred = inferer(x, self.network)
                    if flips:  # the first array axis is left-right once Orientationd has run
                        pred = (pred + inferer(x.flip(2), self.network).flip(2)) / 2
            return decollate_batch({**collated, "pred": pred.cpu()}, detach=True)[0]

        batch = getattr(self.inferer, "sw_batch_size", SW_BATCH)
        item = with_memory_fallback(run, device, batch, report)
        pred = without_io(self.postprocessing)(item)["pred"] if self.postprocessing else item["pred"]
        return on_grid(pred, images[0])

    def labels(self, images: list[Volume], flips: bool = False, overlap: float | None = None,
               report=None, files: list | None = None) -> np.ndarray:
        """The label map (z, y, x) of `segment`'s output: one channel is taken as it is (class indices, or
        values merged by the bundle); several are classes (argmax) or, once thresholded, labels c + 1."""
        out = self.segment(images, flips, overlap, report, files)
        if len(out) == 1:
            return np.clip(np.rint(out[0]), 0, 65535).astype(np.uint16)
        if np.isin(out, (0, 1)).all():
            return merged(out > 0)
        return out.argmax(0).astype(np.uint16)


def loaded_case(loader, keys: list[str], images: list[Volume], files: list | None) -> dict:
    """What the bundle's LoadImaged `loader` gives for a case: one key per channel, or all channels stacked under
    one key. With the images' `files`, the loader itself reads them, so that the grid is exactly MONAI's (NIfTI
    stores the affine in float32, and Spacingd's output size can change with its last bit)."""
    if files and loader is not None:
        paths = [str(f) for f in files]
        with contextlib.suppress(Exception):  # a reader missing here (ITKReader without itk), another format
            return loader(dict(zip(keys, paths)) if len(keys) > 1 else {keys[0]: paths if len(paths) > 1 else paths[0]})
    if len(keys) > 1:
        return {k: meta_tensor([im]) for k, im in zip(keys, images)}
    if any(im.array.shape != images[0].array.shape for im in images[1:]):
        raise InputError("The input channels have different sizes, which LoadImaged cannot stack: resample "
                         "them onto the first one's grid.")
    return {keys[0]: meta_tensor(images)}


def merged(masks: np.ndarray) -> np.ndarray:
    """Independent (sigmoid) masks as one label map: channel c is value c + 1, and where masks overlap the
    smaller one wins, so nested regions (BraTS' tumour core inside the whole tumour) all stay visible."""
    out = np.zeros(masks.shape[1:], np.uint16)
    for c in np.argsort(-masks.reshape(len(masks), -1).sum(1), kind="stable"):
        out[masks[c]] = c + 1
    return out


def meta_tensor(images: list[Volume]):
    """The MetaTensor MONAI's LoadImaged makes of these images' files (channels stacked first when several)."""
    from monai.data import MetaTensor
    from monai.utils import MetaKeys, SpaceKeys
    arrays = [np.asarray(im.array, np.float32).T for im in images]  # (z, y, x) -> (x, y, z), as NIfTI stores it
    affine = LPS_TO_RAS @ _homogeneous(images[0].index_to_physical())
    meta = {MetaKeys.AFFINE: affine, MetaKeys.ORIGINAL_AFFINE: affine.copy(),
            MetaKeys.SPATIAL_SHAPE: np.array(arrays[0].shape), MetaKeys.SPACE: SpaceKeys.RAS,
            MetaKeys.ORIGINAL_CHANNEL_DIM: 0 if len(arrays) > 1 else float("nan"), "filename_or_obj": "image"}
    return MetaTensor.ensure_torch_and_prune_meta(np.stack(arrays) if len(arrays) > 1 else arrays[0], meta)


def _homogeneous(m: np.ndarray) -> np.ndarray:
    """A 2D image's 3x3 index-to-physical matrix as MONAI's 4x4 (k = 0 mm); a 3D one unchanged."""
    if m.shape == (4, 4):
        return m
    out = np.eye(4)
    out[:2, :2], out[:2, 3] = m[:2, :2], m[:2, 2]
    return out


def first_loader(preprocessing):
    """The bundle's (first) LoadImaged, or None."""
    from monai.transforms import Compose, LoadImaged
    transforms = preprocessing.flatten().transforms if isinstance(preprocessing, Compose) else [preprocessing]
    return next((t for t in transforms if isinstance(t, LoadImaged)), None)


def without_io(compose):
    """The bundle's Compose less reading and writing files; the transform objects stay the same, so that
    Invertd (which matches transforms by identity) undoes the preprocessing that really ran."""
    from monai.transforms import Compose, LoadImage, LoadImaged, SaveImage, SaveImaged
    if not isinstance(compose, Compose):
        return compose
    flat = copy.copy(compose.flatten())
    flat.transforms = [t for t in flat.transforms if not isinstance(t, (LoadImage, LoadImaged, SaveImage, SaveImaged))]
    return flat


def inferer_with(inferer, overlap: float | None, batch: int):
    """The bundle's inferer with GDImaging's window batch (memory fallback) and, if asked, another overlap."""
    inferer = copy.copy(inferer)
    if hasattr(inferer, "sw_batch_size"):
        inferer.sw_batch_size = batch
    if overlap is not None and hasattr(inferer, "overlap"):
        inferer.overlap = overlap
    return inferer


def on_grid(pred, reference: Volume) -> np.ndarray:
    """(C, z, y, x) of the bundle's output on the reference grid; outputs left on the model grid by a bundle
    without Invertd are carried over by nearest neighbour, as a viewer shows the saved file."""
    array = np.asarray(pred.detach().cpu().float().numpy() if hasattr(pred, "detach") else pred)
    array = array.transpose(0, *range(array.ndim - 1, 0, -1))
    if array.shape[1:] == reference.array.shape and _same_affine(pred, reference):
        return array
    affine = LPS_TO_RAS @ np.asarray(pred.affine, float)
    d = reference.ndim
    spacing = np.linalg.norm(affine[:d, :d], axis=0)
    grid = Volume(np.zeros(array.shape[1:], np.float32), tuple(spacing), tuple(affine[:d, 3]),
                  affine[:d, :d] / spacing)
    return np.stack([grid.with_array(c).resample_to(reference, "nearest").array for c in array])


def _same_affine(pred, reference: Volume) -> bool:
    affine = getattr(pred, "affine", None)
    return affine is None or np.allclose(LPS_TO_RAS @ np.asarray(affine, float),
                                         _homogeneous(reference.index_to_physical()), atol=1e-4)
