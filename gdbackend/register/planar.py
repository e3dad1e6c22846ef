"""Single-slice volumes registered as the 2D images they are. Slicer holds a 2D image (a PNG, an X-ray, one CT
slice) as a 3D volume one voxel thick; registered in 3D, a pair of them has out-of-plane parameters that nothing
constrains, and the in-plane answer suffered: ITK's rotated PD slice (case B) as one-slice volumes came out 4.5 deg
off, against 0.0004 deg in 2D. So a pair of parallel single slices is registered in the fixed slice's plane, and
the result is lifted back to 3D: in plane as found, across it the moving slice's offset from the fixed one."""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..errors import InputError
from ..volume import Volume
from .result import BSplineGrid, RegistrationResult

PARALLEL_TOLERANCE = 1e-3    # largest out-of-plane component (sine) of a moving in-plane axis


def thin_axis(volume: Volume) -> int | None:
    """The (x, y, z) axis along which a 3D volume is one voxel thick, or None."""
    if volume.ndim != 3:
        return None
    thin = [a for a, n in enumerate(volume.size) if n == 1]
    return thin[0] if len(thin) == 1 else None


@dataclass(frozen=True)
class Plane:
    """The fixed slice's frame: plane coordinates (u, v, n), u and v along the fixed slice's in-plane axes from
    its origin and n across it, to LPS mm.

    Args:
        frame: 4x4 homogeneous matrix, plane coordinates -> physical (mm).
        thin: the fixed volume's thin (x, y, z) axis.
    """
    frame: np.ndarray
    thin: int

    @classmethod
    def of(cls, fixed: Volume) -> Plane:
        thin = thin_axis(fixed)
        frame = np.eye(4)
        frame[:3, :3] = fixed.direction[:, [a for a in range(3) if a != thin] + [thin]]
        frame[:3, 3] = fixed.origin
        return cls(frame, thin)

    def flat(self, volume: Volume, name: str) -> tuple[Volume, float]:
        """`volume` (one voxel thick) as a 2D image in plane coordinates, and its offset (mm) across the plane."""
        thin = thin_axis(volume)
        axes = [a for a in range(3) if a != thin]
        to_plane = self.frame[:3, :3].T
        direction = to_plane @ volume.direction[:, axes]
        if np.abs(direction[2]).max() > PARALLEL_TOLERANCE:
            tilt = np.degrees(np.arccos(min(1.0, abs(float(self.frame[:3, 2] @ volume.direction[:, thin])))))
            raise InputError(f"The {name} is a single slice {tilt:.1f} deg out of the fixed slice's plane: a 2D "
                             "registration needs parallel slices. Resample it onto the fixed slice first, or "
                             "register it to a 3D volume.")
        origin = to_plane @ (np.asarray(volume.origin) - self.frame[:3, 3])
        spacing = tuple(volume.spacing[a] for a in axes)
        flat = np.take(volume.array, 0, axis=2 - thin)
        return Volume(flat, spacing, tuple(origin[:2]), direction[:2] / np.linalg.norm(direction[:2], axis=0)), \
            float(origin[2])

    def lift(self, result: RegistrationResult, fixed: Volume, offset: float) -> RegistrationResult:
        """A 2D result in plane coordinates as the 3D result on the one-slice `fixed`, the moving slice `offset` mm
        across the plane."""
        return replace(result, fixed_grid=fixed,
                       matrix=None if result.matrix is None else self._matrix(result.matrix, offset),
                       displacement=None if result.displacement is None else self._field(result.displacement, offset),
                       bspline=None if result.bspline is None else self._bspline(result.bspline, fixed, offset))

    def _matrix(self, matrix: np.ndarray, offset: float) -> np.ndarray:
        in_plane = np.eye(4)
        in_plane[:2, :2], in_plane[:2, 3], in_plane[2, 3] = matrix[:2, :2], matrix[:2, 2], offset
        return self.frame @ in_plane @ np.linalg.inv(self.frame)

    def _field(self, field: np.ndarray, offset: float) -> np.ndarray:
        """[rows, cols, 2] in plane coordinates -> the fixed volume's [.., 3] in LPS, the thin axis put back."""
        vectors = field @ self.frame[:3, :2].T + offset * self.frame[:3, 2]
        return np.expand_dims(vectors, 2 - self.thin)

    def _bspline(self, grid: BSplineGrid, fixed: Volume, offset: float) -> BSplineGrid:
        """The control grid made 3D: four control points across the slice (a cubic B-spline's support), each with
        the in-plane values, one slice thickness apart."""
        values = grid.coefficients @ self.frame[:3, :2].T
        values = np.repeat(np.expand_dims(values, 2 - self.thin), 4, axis=2 - self.thin)
        knots = list(grid.knots)
        knots.insert(self.thin, fixed.spacing[self.thin])
        return BSplineGrid(values, tuple(knots), self._matrix(grid.linear, offset))
