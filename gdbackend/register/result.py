"""`RegistrationResult`: the transform found, as ITK writes it (fixed point -> moving point, LPS)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from ..errors import InputError
from ..volume import Volume, write_atomic

LINEAR_SUFFIXES = (".tfm", ".txt", ".h5", ".hdf5", ".mat")
FIELD_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".mha", ".h5", ".hdf5")


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

    @property
    def is_linear(self) -> bool:
        return self.displacement is None

    def to_sitk(self) -> sitk.Transform:
        d = self.fixed_grid.ndim
        if self.is_linear:
            m = self.matrix
            if self.stages[-1] == "translation" and np.allclose(m[:d, :d], np.eye(d)):
                return sitk.TranslationTransform(d, m[:d, d].tolist())
            t = sitk.AffineTransform(d)
            t.SetMatrix(m[:d, :d].ravel().tolist())
            t.SetTranslation(m[:d, d].tolist())
            return t
        return sitk.DisplacementFieldTransform(self.displacement_image())

    def displacement_image(self) -> sitk.Image:
        """The displacement field as an ITK vector image (float64) with the fixed image's geometry."""
        image = sitk.GetImageFromArray(self.displacement.astype(np.float64), isVector=True)
        g = self.fixed_grid
        image.SetSpacing(g.spacing)
        image.SetOrigin(g.origin)
        image.SetDirection(g.direction.ravel().tolist())
        return image

    def save(self, path: str | os.PathLike) -> Path:
        """Write an ITK transform file (linear: .tfm/.txt/.h5/.mat; deformable: .h5 or a displacement image)."""
        path = Path(path)
        name = path.name.lower()
        if self.is_linear:
            if not name.endswith(LINEAR_SUFFIXES):
                raise InputError(f"Save a linear transform as {', '.join(LINEAR_SUFFIXES)}, not {path.name}.")
            return write_atomic(path, lambda tmp: sitk.WriteTransform(self.to_sitk(), str(tmp)))
        if not name.endswith(FIELD_SUFFIXES):
            raise InputError(f"Save a deformable transform as {', '.join(FIELD_SUFFIXES)}, not {path.name}.")
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
        return {"transform": "->".join(self.stages), "metric": self.metric, "final_loss": self.final_loss,
                "iterations": self.iterations, "seconds": round(self.seconds, 3), "parameters": params}
