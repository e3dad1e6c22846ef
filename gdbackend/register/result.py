"""`RegistrationResult`: the transform found, as ITK writes it (fixed point -> moving point, LPS), in the form the
options' `output_type` asks for: an affine matrix, a B-spline control-point grid, or a displacement field."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from ..errors import InputError
from ..volume import Volume, write_atomic

LINEAR_SUFFIXES = (".tfm", ".txt", ".h5", ".hdf5", ".mat")
BSPLINE_SUFFIXES = (".h5", ".hdf5", ".tfm", ".txt")
FIELD_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".mha", ".h5", ".hdf5")


@dataclass
class BSplineGrid:
    """A bspline stage as found: T(x) = L(x + u(x)), u a cubic B-spline on a control grid aligned with the fixed
    image's axes, control point m of an axis at (m - 1) knots from the fixed origin along that axis.

    Args:
        coefficients: u's control-point values [..control grid (z, y, x), d], mm, LPS.
        knots: control-point spacing per fixed axis (x, y, z), mm.
        linear: L, the (d+1)x(d+1) LPS matrix of the stages before it (fixed point -> moving point).
    """
    coefficients: np.ndarray
    knots: tuple[float, ...]
    linear: np.ndarray


@dataclass
class RegistrationResult:
    fixed_grid: Volume
    stages: list[str]
    metric: str
    matrix: np.ndarray | None              # (d+1)x(d+1), linear results
    displacement: np.ndarray | None        # [..spatial, d] mm on the fixed grid, deformable results
    loss_history: list[dict] = field(default_factory=list)
    final_loss: float = float("nan")
    iterations: int = 0
    seconds: float = 0.0
    output_type: str = ""                  # linear, bspline or displacement (options.result_type()); "": by stages
    bspline: BSplineGrid | None = None     # a last bspline stage's grid

    @property
    def is_linear(self) -> bool:
        return self.displacement is None

    @property
    def kind(self) -> str:
        """What `to_sitk` and `save` give: linear, bspline or displacement."""
        return self.output_type or ("linear" if self.is_linear else "displacement")

    def to_sitk(self) -> sitk.Transform:
        d = self.fixed_grid.ndim
        if self.kind == "bspline":
            return self.bspline_transform()
        if self.kind == "linear":
            m = self.matrix
            if self.stages[-1] == "translation" and np.allclose(m[:d, :d], np.eye(d)):
                return sitk.TranslationTransform(d, m[:d, d].tolist())
            t = sitk.AffineTransform(d)
            t.SetMatrix(m[:d, :d].ravel().tolist())
            t.SetTranslation(m[:d, d].tolist())
            return t
        return sitk.DisplacementFieldTransform(self.displacement_image())

    def bspline_transform(self) -> sitk.BSplineTransform:
        """ITK's cubic BSplineTransform equal to T inside the fixed image: cubic B-splines reproduce affine maps,
        so L(x + u(x)) - x = L(x) - x + A u(x) is a B-spline with control values L(p) - p + A c (A: L's matrix, p:
        the control points, c: u's values). One more control point before and after each axis (value L(p) - p: u's
        own there is zero) keeps the first and last fixed voxels inside ITK's valid region; without the one before,
        the first row of an oblique image fell just outside it by rounding and was left unmoved. Outside that
        region ITK maps points unchanged."""
        if self.bspline is None:
            raise InputError("This registration has no bspline stage: save it as a linear or displacement transform.")
        g, grid, d = self.fixed_grid, self.bspline, self.fixed_grid.ndim
        coefficients = np.pad(grid.coefficients.astype(np.float64), [(1, 1)] * d + [(0, 0)])
        steps = np.stack(np.indices(coefficients.shape[:-1])[::-1], axis=-1) - 2.0   # [..grid, d]: x, y, z
        direction = g.direction.reshape(d, d)
        points = np.asarray(g.origin) + (steps * np.asarray(grid.knots)) @ direction.T
        a, t = grid.linear[:d, :d], grid.linear[:d, d]
        values = points @ (a - np.eye(d)).T + t + coefficients @ a.T
        transform = sitk.BSplineTransform(d, 3)
        origin = np.asarray(g.origin) - 2 * direction @ np.asarray(grid.knots)
        transform.SetFixedParameters([*coefficients.shape[:-1][::-1], *origin, *grid.knots, *direction.ravel()])
        transform.SetParameters(np.moveaxis(values, -1, 0).ravel().tolist())   # every x value, then y, then z
        return transform

    def displacement_field(self) -> np.ndarray:
        """T(x) - x on the fixed grid [..spatial, d], mm (LPS); of a linear result too."""
        if self.displacement is not None:
            return self.displacement
        g, d = self.fixed_grid, self.fixed_grid.ndim
        ijk = np.stack(np.indices(g.array.shape)[::-1], axis=-1).astype(np.float64)     # [..spatial, d]: i, j, k
        x = np.asarray(g.origin) + (ijk * np.asarray(g.spacing)) @ g.direction.reshape(d, d).T
        return x @ (self.matrix[:d, :d] - np.eye(d)).T + self.matrix[:d, d]

    def displacement_image(self) -> sitk.Image:
        """The displacement field as an ITK vector image (float64) with the fixed image's geometry."""
        image = sitk.GetImageFromArray(self.displacement_field().astype(np.float64), isVector=True)
        g = self.fixed_grid
        image.SetSpacing(g.spacing)
        image.SetOrigin(g.origin)
        image.SetDirection(g.direction.ravel().tolist())
        return image

    def save(self, path: str | os.PathLike) -> Path:
        """Write an ITK transform file (linear: .tfm/.txt/.h5/.mat; bspline: .h5/.tfm/.txt; displacement: .h5 or a
        displacement image)."""
        path = Path(path)
        name = path.name.lower()
        if self.kind in ("linear", "bspline"):
            suffixes = LINEAR_SUFFIXES if self.kind == "linear" else BSPLINE_SUFFIXES
            if not name.endswith(suffixes):
                raise InputError(f"Save a {self.kind} transform as {', '.join(suffixes)}, not {path.name}.")
            return write_atomic(path, lambda tmp: sitk.WriteTransform(self.to_sitk(), str(tmp)))
        if not name.endswith(FIELD_SUFFIXES):
            raise InputError(f"Save a displacement field as {', '.join(FIELD_SUFFIXES)}, not {path.name}.")
        if name.endswith((".h5", ".hdf5")):
            return write_atomic(path, lambda tmp: sitk.WriteTransform(self.to_sitk(), str(tmp)))
        return write_atomic(path, lambda tmp: sitk.WriteImage(self.displacement_image(), str(tmp), True))

    def resample(self, moving: Volume, interpolation: str = "linear", default: float = 0.0) -> Volume:
        """The moving image on the fixed grid, through this transform (SimpleITK's Resample)."""
        return moving.resample_to(self.fixed_grid, interpolation, default, self.to_sitk())

    def jacobian_determinant(self) -> np.ndarray:
        """det(dT/dx) on the fixed grid (1 for no change of volume, <= 0 where the map folds)."""
        if self.is_linear:
            return np.full(self.fixed_grid.array.shape, np.linalg.det(self.matrix[:-1, :-1]))
        g = self.fixed_grid
        d = g.ndim
        u = self.displacement
        grads = [np.gradient(u[..., c], *reversed(g.spacing)) for c in range(d)]  # d/dk, d/dj, d/di
        jac = np.empty(u.shape[:-1] + (d, d))
        for c in range(d):
            for a in range(d):                          # a: index axis i, j, k
                jac[..., c, a] = grads[c][d - 1 - a]
        rot = g.direction
        jac = jac @ rot.T + np.eye(d)                   # derivative w.r.t. physical coordinates
        return np.linalg.det(jac)

    def folding_fraction(self) -> float:
        """Fraction of fixed voxels where the transform folds (Jacobian determinant <= 0)."""
        return float((self.jacobian_determinant() <= 0).mean())

    def summary(self) -> dict:
        """The --json line of the CLI."""
        params = self.matrix.tolist() if self.is_linear else []
        return {"transform": "->".join(self.stages), "output_type": self.kind, "metric": self.metric,
                "final_loss": self.final_loss,
                "iterations": self.iterations, "seconds": round(self.seconds, 3), "parameters": params}
