"""`Volume`: a voxel array with its physical geometry (ITK's LPS convention).

The array is indexed [k, j, i] (z, y, x) for 3D and [j, i] for 2D, as SimpleITK and
Slicer's `arrayFromVolume` both give it. Spacing and origin are in (x, y, z) order;
`direction` holds the axis directions as columns, so that
    physical point = origin + direction @ (spacing * (i, j, k)).
Slicer's RAS is reached only through `ijk_to_ras` / `from_ijk_to_ras`.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from .dicom import is_series_path, read_series
from .errors import InputError
from .resources import check_writable

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])
SEGMENTATION_SUFFIX = ".seg.nrrd"     # Slicer's segmentation files (segmentation_file.py)
# the image files a folder of cases holds (a Slicer segmentation before plain NRRD: "case1.seg.nrrd" is case1's)
IMAGE_SUFFIXES = (".nii.gz", ".nii", SEGMENTATION_SUFFIX, ".nrrd", ".mha", ".mhd", ".png")
_PICTURES = (".png", ".jpg", ".jpeg", ".bmp")
_INTERPOLATORS = {"linear": sitk.sitkLinear, "nearest": sitk.sitkNearestNeighbor, "bspline": sitk.sitkBSpline}



def image_stem(path: str | os.PathLike) -> str:
    """A file's name without its image suffix ("case1.nii.gz" -> "case1"): results are named after it."""
    name = Path(path).name
    if is_series_path(Path(path)):
        return name         # a DICOM series' folder or UID: its dots are not a suffix
    suffix = next((s for s in IMAGE_SUFFIXES if name.lower().endswith(s)), Path(name).suffix)
    return name[: len(name) - len(suffix)] if suffix else name

@dataclass
class Volume:
    array: np.ndarray
    spacing: tuple[float, ...] = ()
    origin: tuple[float, ...] = ()
    direction: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        self.array = np.asarray(self.array)
        d = self.array.ndim
        if d not in (2, 3):
            raise InputError(
                f"Expected a 2D or 3D scalar image, got an array of shape {self.array.shape}: "
                "split 4D series or vector images into scalar volumes first.")
        if 0 in self.array.shape:
            raise InputError(f"The image has zero size {self.array.shape}: check the file or the crop.")
        if self.array.dtype.kind not in "biuf":
            raise InputError(f"The voxels are of type {self.array.dtype}: a scalar image needs real numbers "
                             "(bool, integer or float); convert the array first.")
        self.spacing = tuple(float(s) for s in (self.spacing or (1.0,) * d))
        self.origin = tuple(float(o) for o in (self.origin or (0.0,) * d))
        direction = np.eye(d) if self.direction is None else np.asarray(self.direction, float)
        if direction.size != d * d:
            raise InputError(f"The direction matrix has shape {direction.shape}: a {d}D image needs {d}x{d}.")
        self.direction = direction.reshape(d, d)
        if len(self.spacing) != d or len(self.origin) != d:
            raise InputError(f"Spacing {self.spacing} and origin {self.origin} must have {d} values for a {d}D image.")
        if min(self.spacing) <= 0 or not np.all(np.isfinite(self.spacing)):
            raise InputError(f"Spacing must be positive and finite, got {self.spacing}.")
        if not np.all(np.isfinite(self.origin)):
            raise InputError(f"The origin must be finite, got {self.origin}: fix the image header.")
        if not np.allclose(self.direction.T @ self.direction, np.eye(d), atol=1e-3):  # NaN fails too
            raise InputError("The direction matrix is not orthonormal: fix the image header.")

    @property
    def ndim(self) -> int:
        return self.array.ndim

    @property
    def size(self) -> tuple[int, ...]:
        """Number of voxels along (x, y[, z]), ITK's order."""
        return tuple(reversed(self.array.shape))

    def index_to_physical(self) -> np.ndarray:
        """(d+1)x(d+1) homogeneous matrix from (i, j[, k]) to LPS millimetres."""
        d = self.ndim
        m = np.eye(d + 1)
        m[:d, :d] = self.direction @ np.diag(self.spacing)
        m[:d, d] = self.origin
        return m

    def with_array(self, array: np.ndarray) -> "Volume":
        """The same geometry around other voxels (same shape)."""
        array = np.asarray(array)
        if array.shape != self.array.shape:
            raise InputError(f"Array shape {array.shape} differs from the volume's {self.array.shape}.")
        return replace(self, array=array)

    def same_grid(self, other: "Volume", tol: float = 1e-4) -> bool:
        return (self.array.shape == other.array.shape
                and np.allclose(self.index_to_physical(), other.index_to_physical(), atol=tol))

    # ------------------------------------------------------------------ SimpleITK
    @classmethod
    def from_sitk(cls, image: sitk.Image) -> "Volume":
        if image.GetDimension() not in (2, 3):
            raise InputError(
                f"The image is {image.GetDimension()}D: only 2D and 3D scalar images are supported; "
                "extract one volume of the series first.")
        array = sitk.GetArrayFromImage(image)
        if image.GetNumberOfComponentsPerPixel() > 1:
            if np.ptp(array, axis=-1).max() != 0:
                raise InputError(
                    f"The image has {image.GetNumberOfComponentsPerPixel()} components per voxel (colour or "
                    "vector image): convert it to a scalar (greyscale) image first.")
            array = array[..., 0]  # grey stored as RGB, as in ITK's example PNGs
        d = image.GetDimension()
        return cls(array, image.GetSpacing(), image.GetOrigin(), np.array(image.GetDirection()).reshape(d, d))

    def to_sitk(self) -> sitk.Image:
        array = self.array
        if array.dtype == np.bool_:
            array = array.astype(np.uint8)
        elif array.dtype == np.float16:  # SimpleITK has no half-precision pixel type
            array = array.astype(np.float32)
        image = sitk.GetImageFromArray(array)
        image.SetSpacing(self.spacing)
        image.SetOrigin(self.origin)
        image.SetDirection(self.direction.ravel().tolist())
        return image

    @classmethod
    def read(cls, path: str | os.PathLike) -> "Volume":
        """Read any format SimpleITK reads (NIfTI, NRRD, MHA, PNG, a DICOM file, ...), a DICOM series: a folder
        of one series, or FOLDER/SERIES_UID (dicom.py), or a Slicer segmentation as a label map of its segments
        (segmentation_file.py: overlapping segments too, which NRRD stores as layers)."""
        path = Path(path)
        if is_series_path(path):
            return cls.from_sitk(read_series(path))
        if not path.exists():
            raise InputError(f"File not found: {path}. Check the path and the file name.")
        if path.name.lower().endswith(SEGMENTATION_SUFFIX):
            from .segmentation_file import read_label  # deferred: that module builds on this one
            return read_label(path)
        try:
            image = sitk.ReadImage(str(path))
        except RuntimeError as e:
            first = str(e).strip().splitlines()[-1] if str(e).strip() else ""
            raise InputError(
                f"Cannot read {path} as an image ({first}). Use a format SimpleITK reads: "
                ".nii/.nii.gz, .nrrd, .mha/.mhd, .png.") from None
        return cls.from_sitk(image)

    def write(self, path: str | os.PathLike, compress: bool = True) -> Path:
        """Write atomically (temporary file in the same folder, then rename)."""
        if self.ndim == 3 and Path(path).suffix.lower() in _PICTURES:  # ITK would keep the first slice only
            raise InputError(f"{Path(path).name} is a 2D picture format but the image is 3D: write .nii.gz, "
                             ".nrrd or .mha, or extract one slice first.")
        if str(path).lower().endswith((".nii", ".nii.gz")) and self.array.dtype.kind == "f" \
                and not np.isfinite(self.array).all():  # ITK's NIfTI writer silently turns them into 0
            raise InputError(f"The image has NaN or infinite voxels, which NIfTI ({path}) would store as 0: "
                             "replace them first, or write .nrrd or .mha, which keep them.")
        try:
            return write_atomic(Path(path), lambda tmp: sitk.WriteImage(self.to_sitk(), str(tmp), compress))
        except RuntimeError as e:
            first = str(e).strip().splitlines()[-1] if str(e).strip() else ""
            raise InputError(
                f"Cannot write a {self.ndim}D {self.array.dtype} image as {path} ({first}). Use .nii.gz, .nrrd "
                "or .mha (any image), or .png (2D 8/16-bit only).") from None

    # ------------------------------------------------------------------ Slicer (RAS)
    def ijk_to_ras(self) -> np.ndarray:
        """4x4 IJK-to-RAS matrix as Slicer's volume nodes hold it (2D images get k = 0 mm)."""
        m = np.eye(4)
        d = self.ndim
        lps = self.index_to_physical()
        m[:d, :d] = lps[:d, :d]
        m[:d, 3] = lps[:d, d]
        return LPS_TO_RAS @ m

    @classmethod
    def from_ijk_to_ras(cls, array: np.ndarray, ijk_to_ras: np.ndarray) -> "Volume":
        """Build a volume from a KJI array and Slicer's IJK-to-RAS matrix."""
        lps = LPS_TO_RAS @ np.asarray(ijk_to_ras, float)
        d = np.asarray(array).ndim
        cols = lps[:d, :d]
        spacing = np.linalg.norm(cols, axis=0)
        if np.any(spacing <= 0):
            raise InputError("The IJK-to-RAS matrix has a zero column: the volume node has no valid geometry.")
        return cls(array, tuple(spacing), tuple(lps[:d, 3]), cols / spacing)

    # ------------------------------------------------------------------ resampling
    def resample_to(self, reference: "Volume", interpolation: str = "linear", default: float = 0.0,
                    transform: sitk.Transform | None = None) -> "Volume":
        """This volume on the reference's grid; `transform` maps reference points to this volume's points."""
        if reference.ndim != self.ndim:
            raise InputError(f"Cannot resample a {self.ndim}D image onto a {reference.ndim}D grid.")
        if interpolation not in _INTERPOLATORS:
            raise InputError(f"Unknown interpolation {interpolation!r}: use {', '.join(_INTERPOLATORS)}.")
        out = sitk.Resample(self.to_sitk(), reference.to_sitk(), transform or sitk.Transform(),
                            _INTERPOLATORS[interpolation], default, sitk.sitkUnknown)
        return Volume.from_sitk(out)


def write_atomic(path: Path, writer) -> Path:
    """Call writer(tmp_path) on a temporary file beside `path`, fsync it, then rename onto `path`."""
    path = Path(path)
    folder = check_writable(path.parent)
    suffix = "".join(path.suffixes) or ".tmp"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name.split('.')[0]}.", suffix=suffix, dir=folder)
    os.close(fd)
    try:
        writer(Path(tmp))
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
