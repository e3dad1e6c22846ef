"""`register()`: multi-resolution, multi-stage gradient-descent registration in physical space."""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np
import torch

from ..checks import check_intensities, check_mask
from ..device import choose_device, generator
from ..errors import Cancelled, InputError
from ..volume import Volume
from .deformable import DEFORMABLE, make_field
from .initialise import center_of, initial_translation
from .linear import LINEAR, LinearTransform
from .metrics import METRICS
from .optimizers import OPTIMIZERS, StepOptimizer, converged
from .pyramid import make_pyramid, shrink_schedule
from .result import RegistrationResult
from .sampling import Level, Samples

Progress = Callable[[dict], None]


def register(fixed: Volume, moving: Volume, transform: str | Sequence[str] = "affine", metric: str = "mse", *,
             fixed_mask: Volume | None = None, moving_mask: Volume | None = None, levels: int = 3,
             iterations: int | Sequence[int] | None = None, optimizer: str = "sgd",
             learning_rate: float | None = None, samples: int | None = None, tolerance: float = 1e-6,
             initialize: str = "centers", grid_spacing: float | None = None, regularization: float | None = None,
             diffeomorphic: bool = False, device: str = "auto", seed: int | None = 0,
             progress: Progress | None = None, cancel: Callable[[], bool] | None = None) -> RegistrationResult:
    """Find T (fixed physical point -> moving physical point) that makes the moving image match the fixed one.

    `transform` is one stage name or a list run in order (e.g. ["rigid", "affine", "bspline"]), each
    stage starting from the previous result. `learning_rate` is a step length in mm at the finest
    level (coarser levels scale it by their shrink factor). `samples` is the number of random voxels
    per iteration (0: every voxel; default: every voxel for gd, a few thousand for sgd and adam).
    """
    stages = [transform] if isinstance(transform, str) else list(transform)
    _check_options(stages, metric, optimizer, levels, initialize)
    for vol, name in ((fixed, "fixed image"), (moving, "moving image")):
        check_intensities(vol, name)
    if fixed.ndim != moving.ndim:
        raise InputError(f"The fixed image is {fixed.ndim}D and the moving image {moving.ndim}D: both must match.")
    if fixed_mask is not None:
        check_mask(fixed_mask, fixed, "fixed mask")
    if moving_mask is not None:
        check_mask(moving_mask, moving, "moving mask")
    dev = choose_device(device)
    gen = generator(seed, dev)
    iters = _iterations(iterations, levels)
    t0 = time.perf_counter()

    scale = _intensity_scale(fixed, fixed_mask)
    pyramids = list(zip(make_pyramid(_scaled(fixed, scale), fixed_mask, levels, dev),
                        make_pyramid(_scaled(moving, scale), moving_mask, levels, dev)))
    finest = pyramids[-1][0]
    center = torch.as_tensor(center_of(fixed, fixed_mask, initialize == "moments"), dtype=torch.float64, device=dev)
    init = torch.eye(fixed.ndim + 1, dtype=torch.float64, device=dev)
    if initialize != "none":
        init[:-1, -1] = torch.as_tensor(initial_translation(fixed, moving, fixed_mask, moving_mask, initialize),
                                        device=dev)
    radius = 0.5 * float(np.linalg.norm(np.array(fixed.size) * np.array(fixed.spacing)))
    history: list[dict] = []
    field = None
    linear = init
    for stage in stages:
        if stage in LINEAR:
            model = LinearTransform(stage, linear, center, radius).to(dev)
        else:
            model = make_field(stage, finest, grid_spacing, regularization, diffeomorphic).to(dev)
        gain = None
        for lv, ((fg, mg), shrink) in enumerate(zip(pyramids, shrink_schedule(levels))):
            if stage not in LINEAR:
                model.set_level(fg, shrink)
            level = Level(fg, mg, metric, _samples(samples, optimizer, stage, fixed.ndim))
            step = (learning_rate or _default_step(optimizer, stage, metric)) * shrink * min(fixed.spacing)
            gain = _optimise(model, linear, level, stage, lv, iters[lv], optimizer, step, gain, tolerance, gen,
                             history, progress, cancel)
            gain = gain * 0.5 if gain is not None else None
        if stage in LINEAR:
            linear = model.matrix().detach()
        else:
            model.set_level(finest, 1.0)
            field = model
    displacement = None
    if field is not None:
        with torch.no_grad():
            displacement = _total_displacement(field, linear, Level(finest, finest, "mse", 0))
    final = float(np.mean([h["loss"] for h in history[-10:]])) if history else float("nan")
    return RegistrationResult(
        fixed_grid=fixed, stages=stages, metric=metric,
        matrix=None if displacement is not None else linear.cpu().numpy(),
        displacement=displacement, loss_history=history, final_loss=final,
        iterations=len(history), seconds=time.perf_counter() - t0)


def _optimise(model: torch.nn.Module, linear: torch.Tensor, level: Level, stage: str, lv: int, iterations: int,
              kind: str, step: float, gain: float | None, tolerance: float, gen: torch.Generator,
              history: list[dict], progress: Progress | None, cancel: Callable[[], bool] | None) -> float | None:
    """Run one level; returns the optimiser's gain for the next level."""
    params = [p for p in model.parameters() if p.requires_grad]
    opt = StepOptimizer(kind, params, step, iterations, gain)
    losses: list[float] = []
    for it in range(iterations):
        if cancel is not None and cancel():
            raise Cancelled("Registration cancelled: no result was written.")
        samples = level.draw(gen)
        opt.zero_grad()
        loss = level.loss(_moving_coords(model, linear, level, samples), samples)
        reg = model.regularization() if hasattr(model, "regularization") else None
        total = loss + reg if reg is not None else loss
        total.backward()
        value = total.item()
        opt.step(value)
        losses.append(value)
        event = {"stage": stage, "level": lv, "iteration": it, "loss": value}
        history.append(event)
        if progress is not None:
            progress(event)
        if converged(losses, tolerance):
            break
    opt.finish()
    return opt.gain


def _moving_coords(model: torch.nn.Module, linear: torch.Tensor, level: Level,
                   samples: Samples | None) -> torch.Tensor:
    """Moving-image normalised coordinates of the fixed samples under the current transform."""
    xn = level.normalised_points(samples)
    pm = level.moving.physical_to_normalised
    if isinstance(model, LinearTransform):
        theta = (pm @ model.matrix() @ level.normalised_to_physical)[:-1].float()
        return xn @ theta[:, :-1].T + theta[:, -1]
    theta = (pm @ linear @ level.normalised_to_physical)[:-1].float()
    b = (pm @ linear)[:-1, :-1].float()
    u = model.displacement(samples.flat if samples is not None else None)  # mm, in fixed space
    return xn @ theta[:, :-1].T + theta[:, -1] + u.reshape(xn.shape) @ b.T


def _total_displacement(field: torch.nn.Module, linear: torch.Tensor, level: Level) -> np.ndarray:
    """T(x) - x on the finest fixed grid, in mm (LPS), as an array [..spatial, d]."""
    x = level.normalised_points(None).double() @ level.normalised_to_physical[:-1, :-1].T \
        + level.normalised_to_physical[:-1, -1]
    y = (x + field.displacement(None).double().reshape(x.shape)) @ linear[:-1, :-1].T + linear[:-1, -1]
    return (y - x).cpu().numpy()


def _check_options(stages: list[str], metric: str, optimizer: str, levels: int, initialize: str) -> None:
    known = LINEAR + DEFORMABLE
    bad = [s for s in stages if s not in known]
    if not stages or bad:
        raise InputError(f"Unknown transform {bad or stages}: use {', '.join(known)} (or a list of them).")
    if any(s in DEFORMABLE for s in stages[:-1]):
        raise InputError("A deformable stage must be the last one (e.g. rigid -> affine -> bspline).")
    if metric not in METRICS:
        raise InputError(f"Unknown metric {metric!r}: use {', '.join(METRICS)}.")
    if optimizer not in OPTIMIZERS:
        raise InputError(f"Unknown optimizer {optimizer!r}: use {', '.join(OPTIMIZERS)}.")
    if not 1 <= levels <= 6:
        raise InputError(f"levels must be between 1 and 6, got {levels}.")
    if initialize not in ("centers", "moments", "none"):
        raise InputError(f"Unknown initialisation {initialize!r}: use centers, moments or none.")


def _iterations(iterations: int | Sequence[int] | None, levels: int) -> list[int]:
    if iterations is None:
        return [300] + [200] * (levels - 1)
    its = [int(iterations)] * levels if isinstance(iterations, (int, np.integer)) else [int(i) for i in iterations]
    if len(its) != levels or min(its) < 1:
        raise InputError(f"Give one positive iteration count, or one per level ({levels}), got {iterations}.")
    return its


def _samples(samples: int | None, optimizer: str, stage: str, dim: int) -> int:
    if samples is not None:
        if samples < 0:
            raise InputError(f"samples must be >= 0 (0 = every voxel), got {samples}.")
        return samples
    if optimizer == "gd" or stage == "dense":
        return 0    # a dense field has a parameter per voxel: every voxel must drive its own
    return 4096 if dim == 2 else 8192


def _default_step(optimizer: str, stage: str, metric: str) -> float:
    """Step length in mm at the finest level (scaled up on coarser levels).

    Mutual information estimated from a few thousand samples has a much noisier gradient than the
    other metrics, so stochastic descent needs shorter steps to settle (measured on case C)."""
    if stage in LINEAR:
        return {"adam": 0.3, "sgd": 0.25 if metric == "mi" else 1.0, "gd": 1.0}[optimizer]
    return {"adam": 0.2, "sgd": 2.0, "gd": 1.0}[optimizer]


def _intensity_scale(volume: Volume, mask: Volume | None) -> float:
    a = np.abs(volume.array[mask.array > 0] if mask is not None else volume.array).astype(np.float64)
    s = float(np.percentile(a[a > 0], 99.5)) if (a > 0).any() else 1.0
    return s if s > 0 else 1.0


def _scaled(volume: Volume, scale: float) -> Volume:
    return volume.with_array(volume.array.astype(np.float32) / np.float32(scale))
