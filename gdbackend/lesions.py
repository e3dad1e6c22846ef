"""Data with known answers for classification and detection: random ellipsoidal lesions inserted into real
brains (Colin27 from mricron-data, ITK's 3D T1 from insighttoolkit5-examples).

Each lesion is an ellipsoid of random diameter (3-20 mm), orientation and position inside the brain, whose
intensity is raised (hyper-intense) or lowered (hypo-intense) by 10-60 % of the brain's median intensity
with a soft 1 mm edge, so low-contrast lesions are included. The generator is seeded: the same seed gives
the same images, label maps (lesion i = value i), boxes (LPS mm) and "lesion present" patch classes.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache, partial
from multiprocessing import get_context

import numpy as np
from scipy import ndimage

from .boxes import image_box, mask_box
from .errors import InputError
from .sample_data import itk_example, mricron
from .volume import Volume

BRAINS = ("colin27", "itk_t1")


@dataclass(frozen=True)
class Lesion:
    center: tuple[float, ...]      # LPS mm
    radii: tuple[float, ...]       # semi-axes, mm
    contrast: float                # fraction of the brain's median intensity: > 0 hyper-, < 0 hypo-intense
    box: tuple[float, ...]         # [x0, y0, z0, x1, y1, z1] LPS mm around the lesion's voxels

    @property
    def diameter(self) -> float:
        return 2 * max(self.radii)


@dataclass
class LesionCase:
    name: str
    image: Volume                  # float32 brain with the lesions
    label: Volume                  # uint16: 0 background, i for lesion i
    brain: Volume                  # uint8 brain mask
    lesions: list[Lesion]

    @property
    def boxes(self) -> np.ndarray:
        return np.array([les.box for les in self.lesions], float).reshape(-1, 6)


def brain_depth(mask: Volume) -> np.ndarray:
    """Distance in mm from each brain voxel to the outside of the brain (where a lesion of radius r fits)."""
    return ndimage.distance_transform_edt(mask.array > 0, sampling=mask.spacing[::-1])


@lru_cache(maxsize=None)
def _brain(name: str) -> tuple[Volume, Volume, np.ndarray]:
    if name == "colin27":
        image, mask = mricron("ch2.nii.gz"), mricron("ch2bet.nii.gz")
    elif name == "itk_t1":
        image, mask = itk_example("KmeansTest_T1UCharRaw.nii.gz"), itk_example("KmeansTest_T1RawSkullStrip.nii.gz")
    else:
        raise InputError(f"Unknown brain {name!r}: use one of {', '.join(BRAINS)}.")
    image_v = Volume.read(image)
    mask_v = image_v.with_array((Volume.read(mask).array > 0).astype(np.uint8))
    return image_v, mask_v, brain_depth(mask_v)


def brain(name: str) -> tuple[Volume, Volume]:
    """(float32 T1 image, brain mask) of one of BRAINS."""
    image, mask, _ = _brain(name)
    return image.with_array(image.array.astype(np.float32)), mask


def _voxel_points(volume: Volume, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """LPS coordinates (z, y, x, 3) of the voxels of the index block low..high (KJI, inclusive)."""
    k, j, i = np.meshgrid(*[np.arange(lo, hi + 1) for lo, hi in zip(low, high)], indexing="ij")
    m = volume.index_to_physical()
    return np.stack([i, j, k], -1) @ m[:3, :3].T + m[:3, 3]


def insert_lesions(image: Volume, mask: Volume, count: int, rng: np.random.Generator,
                   diameter: tuple[float, float] = (3.0, 20.0), contrast: tuple[float, float] = (0.1, 0.6),
                   hypo_fraction: float = 0.5, depth: np.ndarray | None = None) -> tuple[Volume, Volume, list[Lesion]]:
    """Insert `count` non-overlapping ellipsoids fully inside the brain; returns (image, label, lesions).
    `depth` (brain_depth of the mask) may be given to save its computation."""
    if not 0 < diameter[0] <= diameter[1]:
        raise InputError(f"Lesion diameters must satisfy 0 < low <= high, got {diameter}.")
    brain_mask = mask.array > 0
    depth = brain_depth(mask) if depth is None else depth
    reference = float(np.median(image.array[brain_mask]))
    out, label = image.array.astype(np.float32).copy(), np.zeros(image.array.shape, np.uint16)
    lesions: list[Lesion] = []
    for n in range(1, count + 1):
        for _ in range(200):
            radii = rng.uniform(*diameter, size=3) / 2
            radii[1:] = np.clip(radii[1:], radii[0] * 0.6, radii[0] * 1.6).clip(diameter[0] / 2, diameter[1] / 2)
            inside = np.argwhere(depth >= radii.max() + 1.0)
            if not len(inside):
                raise InputError(f"The brain mask is too small for a {2 * radii.max():.0f} mm lesion.")
            kji = inside[rng.integers(len(inside))]
            center = (image.index_to_physical() @ np.array([*kji[::-1], 1.0]))[:3]
            if all(np.linalg.norm(center - les.center) > radii.max() + max(les.radii) + 3 for les in lesions):
                break
        else:
            raise InputError(f"Cannot place {count} separate lesions in this brain: ask for fewer.")
        rotation, _ = np.linalg.qr(rng.normal(size=(3, 3)))
        reach = np.ceil((radii.max() + 2) / np.asarray(image.spacing[::-1])).astype(int)
        low, high = np.maximum(kji - reach, 0), np.minimum(kji + reach, np.array(out.shape) - 1)
        local = (_voxel_points(image, low, high) - center) @ rotation
        r = np.sqrt(((local / radii) ** 2).sum(-1))
        weight = 1 / (1 + np.exp(-(1 - r) * radii.min() / 0.5))   # soft edge of about 1 mm
        inner = r <= 1
        inner[tuple(kji - low)] = True        # the centre voxel, even for a 3 mm lesion on 3 mm voxels
        sign = -1.0 if rng.random() < hypo_fraction else 1.0
        c = sign * rng.uniform(*contrast)
        block = tuple(slice(lo, hi + 1) for lo, hi in zip(low, high))
        out[block] = np.clip(out[block] + c * reference * weight * brain_mask[block], 0, None)
        label[block][inner] = n
        box = mask_box(image, label == n)
        lesions.append(Lesion(tuple(center), tuple(radii), float(c), tuple(box)))
    return image.with_array(out), image.with_array(label), lesions


def lesion_case(brain_name: str, count: int, seed: int, **options) -> LesionCase:
    """One brain with `count` lesions (0 gives a lesion-free case), reproducible from `seed`."""
    image, mask = brain(brain_name)
    rng = np.random.default_rng(seed)
    if count == 0:
        return LesionCase(f"{brain_name}_{seed}", image, image.with_array(np.zeros(image.array.shape, np.uint16)),
                          mask, [])
    image, label, lesions = insert_lesions(image, mask, count, rng, depth=_brain(brain_name)[2], **options)
    return LesionCase(f"{brain_name}_{seed}", image, label, mask, lesions)


def lesion_cases(n: int, seed: int = 0, brains: tuple[str, ...] = BRAINS, count: tuple[int, int] = (1, 3),
                 processes: int = 1, **options) -> list[LesionCase]:
    """`n` cases alternating between `brains`, each with count[0]..count[1] lesions; `processes` > 1 makes
    them in parallel (the same cases: each is seeded on its own), which a GPU benchmark of hundreds of
    brains needs so as not to wait minutes for its data."""
    rng = np.random.default_rng(seed)
    jobs = [(brains[i % len(brains)], int(rng.integers(count[0], count[1] + 1)), seed * 1000 + i) for i in range(n)]
    make = partial(lesion_case, **options)
    if processes <= 1:
        return [make(*job) for job in jobs]
    # spawned, not forked: a fork of a process running torch's or ITK's threads can deadlock
    with get_context("spawn").Pool(processes) as pool:
        return pool.starmap(make, jobs)


def patch_boxes(case: LesionCase, size: float, negatives: int, rng: np.random.Generator,
                jitter: float = 0.125) -> list[tuple[np.ndarray, int]]:
    """Cubic patches of `size` mm as (box, class): one around each lesion (class 1; the lesion stays inside,
    its centre up to `jitter` x size from the patch centre) and `negatives` in brain regions that touch
    no lesion (class 0)."""
    half = size / 2
    extent = image_box(case.image)
    out = []
    for les in case.lesions:
        room = np.clip(half - (np.array(les.box[3:]) - np.array(les.box[:3])) / 2 - 1, 0, jitter * size)
        center = (np.array(les.box[:3]) + np.array(les.box[3:])) / 2 + rng.uniform(-room, room)
        center = np.clip(center, extent[:3] + half, extent[3:] - half)
        out.append((np.concatenate([center - half, center + half]), 1))
    brain_idx = np.argwhere(case.brain.array > 0)
    m = case.image.index_to_physical()
    boxes = case.boxes
    found, tries = 0, 0
    while found < negatives and tries < 1000 * max(negatives, 1):
        tries += 1
        center = (m @ np.array([*brain_idx[rng.integers(len(brain_idx))][::-1], 1.0]))[:3]
        box = np.concatenate([center - half, center + half])
        touches = np.any(np.all(box[None, :3] < boxes[:, 3:] + 1, 1) & np.all(box[None, 3:] > boxes[:, :3] - 1, 1))
        if touches or np.any(box[:3] < extent[:3]) or np.any(box[3:] > extent[3:]):
            continue
        out.append((box, 0))
        found += 1
    return out
