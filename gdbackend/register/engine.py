"""`register()`: multi-resolution, multi-stage gradient-descent registration in physical space."""
from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from ..checks import check_intensities, check_mask
from ..device import choose_device, generator
from ..errors import Cancelled, InputError
from ..volume import Volume
from .deformable import make_field
from .gauss_newton import REFINE_POINTS, refine
from .initialise import center_of, initial_translation
from .linear import LinearTransform, affine_points, normalised_map
from .metrics import Metric, make_metric
from .optimizers import OPTIMISERS, Optimiser, converged
from .options import LINEAR, ROTATING, RegistrationOptions
from .planar import Plane, thin_axis
from .pyramid import Grid, make_pyramid, shrink_schedule
from .result import BSplineGrid, RegistrationResult
from .sampling import Level, Samples
from .search import SEARCH_ITERATIONS, SEARCH_KEEP, candidate_rotations, shortlist, whole_grid_loss
from .threads import sized_threads

Progress = Callable[[dict], None]
SYNC_EVERY = 10   # iterations between reads of the loss on the host (history, progress, cancel, convergence)


def register(fixed: Volume, moving: Volume, transform: str | Sequence[str] | None = None, metric: str | None = None,
             *, fixed_mask: Volume | None = None, moving_mask: Volume | None = None, progress: Progress | None = None,
             cancel: Callable[[], bool] | None = None, **options) -> RegistrationResult:
    """Find T (fixed physical point -> moving physical point) that makes the moving image match the fixed one.

    Args:
        fixed: the image whose grid the result lives on.
        moving: the image T maps into.
        transform: one stage name or a list run in order (e.g. ["rigid", "affine", "bspline"]), each
            starting from the previous result (default: options.RegistrationOptions's).
        metric: mse, ncc, lncc or mi (default: RegistrationOptions's).
        fixed_mask: voxels > 0 are where the metric is evaluated (same grid as `fixed`).
        moving_mask: voxels > 0 are where moving intensities count (same grid as `moving`).
        progress: called with each iteration's event {"stage", "level", "iteration", "loss", "step", "done",
            "steps"}, in bursts of up to SYNC_EVERY: `step` iterations have run, and the run is at iteration
            `done` of the `steps` its schedule allows (a level that converges early skips the rest of its own).
        cancel: polled every iteration; True stops the run with Cancelled.
        options: any other field of options.RegistrationOptions (levels, iterations, optimizer, learning_rate,
            samples, tolerance, initialize, grid_spacing, regularization, diffeomorphic, device, seed), or
            `options=` a RegistrationOptions.
    """
    base = options.pop("options", None)
    given = {k: v for k, v in (("transform", transform), ("metric", metric)) if v is not None}
    opts = RegistrationOptions.from_values({**(vars(base) if base is not None else {}), **given, **options})
    _check_images(fixed, moving, fixed_mask, moving_mask)
    if thin_axis(fixed) is not None and thin_axis(moving) is not None:
        return _register_in_plane(fixed, moving, fixed_mask, moving_mask, opts, progress, cancel)
    run = _Run(opts, choose_device(opts.device), progress, cancel)
    t0 = time.perf_counter()
    pyramids, linear, center, radius = _prepare(fixed, moving, fixed_mask, moving_mask, opts, run.device)
    finest = pyramids[-1][0]
    field_model = None
    rotating = [i for i, s in enumerate(opts.stages) if s in ROTATING][:1]    # the stage that may search
    for i, stage in enumerate(opts.stages):
        if i in rotating:
            linear = _search_start(run, pyramids, linear, center, radius, min(fixed.spacing))
        if stage in LINEAR:
            model = LinearTransform(stage, linear, center, radius).to(run.device)
        else:
            model = make_field(stage, finest, opts.field_spacing(min(fixed.spacing)), opts.field_weight(),
                               opts.diffeomorphic).to(run.device)
        _run_stage(run, stage, model, linear, pyramids, min(fixed.spacing))
        if stage in LINEAR:
            linear = model.matrix().detach()
        else:
            model.set_level(finest, 1.0)
            field_model = model
    displacement, bspline = None, None
    if field_model is not None:
        with torch.no_grad():
            displacement = _total_displacement(field_model, linear, Level(finest, finest, 0))
        if opts.stages[-1] == "bspline":   # its control grid too, for a B-spline result
            bspline = BSplineGrid(field_model.coef.detach().double().cpu().numpy(), tuple(field_model.knots),
                                  linear.cpu().numpy())
    history = run.history
    final = float(np.mean([h["loss"] for h in history[-10:]])) if history else float("nan")
    return RegistrationResult(
        fixed_grid=fixed, stages=list(opts.stages), metric=opts.metric,
        matrix=None if displacement is not None else linear.cpu().numpy(),
        displacement=displacement, loss_history=history, final_loss=final,
        iterations=len(history), seconds=time.perf_counter() - t0, output_type=opts.result_type(), bspline=bspline)


@dataclass
class _Run:
    """What every level of one registration shares: its options, device, random samples and reports."""
    options: RegistrationOptions
    device: torch.device
    progress: Progress | None
    cancel: Callable[[], bool] | None
    history: list[dict] = field(default_factory=list)
    done: int = 0               # the finished levels' scheduled iterations

    def __post_init__(self) -> None:
        self.gen = generator(self.options.seed, self.device)
        self.steps = self.options.total_iterations()

    def check_cancel(self) -> None:
        if self.cancel is not None and self.cancel():
            raise Cancelled("Registration cancelled: no result was written.")

    def report(self, stage: str, level: int, first: int, losses: list[float], end: int | None = None) -> None:
        """Record iterations first, first + 1, ... of a level and tell the caller, one event each. `end`: these are
        the last before the level stops early at what its schedule would have run to `end` (the last event's
        `done` then says so, and the run's last event reaches `steps`)."""
        for i, loss in enumerate(losses):
            done = self.done + (end if end is not None and i == len(losses) - 1 else first + i + 1)
            event = {"stage": stage, "level": level, "iteration": first + i, "loss": loss,
                     "step": len(self.history) + 1, "done": done, "steps": self.steps}
            self.history.append(event)
            if self.progress is not None:
                self.progress(event)
            self.check_cancel()


def _check_images(fixed: Volume, moving: Volume, fixed_mask: Volume | None, moving_mask: Volume | None) -> None:
    for vol, name in ((fixed, "fixed image"), (moving, "moving image")):
        check_intensities(vol, name)
    if fixed.ndim != moving.ndim:
        raise InputError(f"The fixed image is {fixed.ndim}D and the moving image {moving.ndim}D: both must match.")
    if fixed_mask is not None:
        check_mask(fixed_mask, fixed, "fixed mask")
    if moving_mask is not None:
        check_mask(moving_mask, moving, "moving mask")


def _register_in_plane(fixed: Volume, moving: Volume, fixed_mask: Volume | None, moving_mask: Volume | None,
                       opts: RegistrationOptions, progress: Progress | None,
                       cancel: Callable[[], bool] | None) -> RegistrationResult:
    """Two single-slice volumes, registered in the fixed slice's plane and lifted back to 3D (planar.py)."""
    plane = Plane.of(fixed)
    flat_fixed, _ = plane.flat(fixed, "fixed image")
    flat_moving, offset = plane.flat(moving, "moving image")
    masks = {name: plane.flat(mask, name.replace("_", " "))[0]
             for name, mask in (("fixed_mask", fixed_mask), ("moving_mask", moving_mask)) if mask is not None}
    result = register(flat_fixed, flat_moving, options=opts, progress=progress, cancel=cancel, **masks)
    return plane.lift(result, fixed, offset)


def _prepare(fixed: Volume, moving: Volume, fixed_mask: Volume | None, moving_mask: Volume | None,
             opts: RegistrationOptions, dev: torch.device) -> tuple[list[tuple[Grid, Grid]], torch.Tensor,
                                                                   torch.Tensor, float]:
    """The level pairs (coarse to fine), the initial matrix, the centre of rotation and the image radius (mm)."""
    scale = _intensity_scale(fixed, fixed_mask)
    pyramids = list(zip(make_pyramid(_scaled(fixed, scale), fixed_mask, opts.levels, dev),
                        make_pyramid(_scaled(moving, scale), moving_mask, opts.levels, dev)))
    moments = opts.initialize == "moments"
    center = torch.as_tensor(center_of(fixed, fixed_mask, moments), dtype=torch.float64, device=dev)
    init = torch.eye(fixed.ndim + 1, dtype=torch.float64, device=dev)
    if opts.initialize != "none":
        init[:-1, -1] = torch.as_tensor(initial_translation(fixed, moving, fixed_mask, moving_mask, opts.initialize),
                                        device=dev)
    radius = 0.5 * float(np.linalg.norm(np.array(fixed.size) * np.array(fixed.spacing)))
    return pyramids, init, center, radius


def _search_start(run: _Run, pyramids: list[tuple[Grid, Grid]], start: torch.Tensor, center: torch.Tensor,
                  radius: float, voxel_mm: float) -> torch.Tensor:
    """The first rotating stage's start: of `start` and its best-matching turns (search.py), the one whose short
    rigid descent on the coarsest level ends best. Each descent draws its own samples and reports nothing, so when
    `start` wins the registration runs as it would without the search."""
    fg, mg = pyramids[0]
    width = run.options.search_width(fg.dim)
    if width <= 0:
        return start
    metric = make_metric(run.options.metric, fg, mg, run.options.levels == 1)
    whole = Level(fg, mg, 0)
    with sized_threads(fg.array.numel(), run.device):
        starts = shortlist(whole, metric, start, center, candidate_rotations(fg.dim, width), SEARCH_KEEP)
    scores = []
    for candidate in starts:
        model = LinearTransform("rigid", candidate, center, radius).to(run.device)
        trial = _Run(run.options, run.device, None, run.cancel)
        _descend(trial, "rigid", 0, model, candidate, pyramids[0], SEARCH_ITERATIONS, None, voxel_mm)
        with sized_threads(fg.array.numel(), run.device):
            scores.append(whole_grid_loss(whole, metric, model.matrix().detach()))
    return starts[int(np.argmin(scores))]


def _run_stage(run: _Run, stage: str, model: torch.nn.Module, linear: torch.Tensor,
               pyramids: list[tuple[Grid, Grid]], voxel_mm: float) -> None:
    """Every level of one stage, coarse to fine, each starting from the coarser one's result and gain."""
    opts = run.options
    gain = None
    for lv, (pair, iterations) in enumerate(zip(pyramids, opts.schedule(stage))):
        if stage not in LINEAR:
            model.set_level(pair[0], shrink_schedule(opts.levels)[lv])
        optimiser, metric, level = _descend(run, stage, lv, model, linear, pair, iterations, gain, voxel_mm)
        refined = opts.refine_steps(stage) if lv == opts.levels - 1 else 0
        if refined:
            coarser = pyramids[-2][1] if len(pyramids) > 1 else None
            _refine(run, stage, lv, model, metric, level, coarser, iterations)
        run.done += iterations + refined
        gain = optimiser.next_gain()


def _descend(run: _Run, stage: str, lv: int, model: torch.nn.Module, linear: torch.Tensor, pair: tuple[Grid, Grid],
             iterations: int, gain: torch.Tensor | None, voxel_mm: float) -> tuple[Optimiser, Metric, Level]:
    """The descent of one level `lv` (of the fixed/moving `pair`), from the coarser level's gains (None: estimated
    here); returns its optimiser, metric and level."""
    opts = run.options
    fg, mg = pair
    kind = OPTIMISERS[opts.optimizer]
    shrink = shrink_schedule(opts.levels)[lv]
    metric = make_metric(opts.metric, fg, mg, lv == opts.levels - 1)
    level = Level(fg, mg, 0 if metric.whole_grid else opts.samples_for(stage, fg.dim), iterations, run.gen)
    step = (opts.learning_rate or kind.default_step(stage in LINEAR, opts.metric)) * shrink * voxel_mm
    params = [p for p in model.parameters() if p.requires_grad]
    optimiser = kind(params, step, iterations, gain, per_tensor=opts.refine_steps(stage) > 0)
    points = fg.array.numel() if (not level.samples or stage not in LINEAR) else level.samples
    with sized_threads(points, run.device):
        _optimise(run, stage, lv, model, linear, level, metric, optimiser, iterations)
    return optimiser, metric, level


def _refine(run: _Run, stage: str, lv: int, model: LinearTransform, metric: Metric, level: Level,
            coarser: Grid | None, first: int) -> None:
    """Gauss-Newton steps that end the finest level, reported as its iterations `first`, `first` + 1, ..."""
    iteration = itertools.count(first)

    def report(loss: float, last: bool) -> None:
        run.report(stage, lv, next(iteration), [loss], first + run.options.refine_steps(stage) if last else None)
    points = REFINE_POINTS[level.dim]
    with sized_threads(points, run.device):
        refine(model, level, coarser, metric, run.options.metric == "ncc", level.subset(points),
               run.options.tolerance > 0, report)


def _optimise(run: _Run, stage: str, lv: int, model: torch.nn.Module, linear: torch.Tensor, level: Level,
              metric: Metric, optimiser: Optimiser, iterations: int) -> None:
    """One level's iterations. The losses stay on the device and are read every SYNC_EVERY iterations (one host
    sync), when the history, progress and the stopping rule see them."""
    losses: list[float] = []
    pending: list[torch.Tensor] = []
    regularised = hasattr(model, "regularization")
    coordinates = _coordinate_map(model, linear, level)
    for it in range(iterations):
        run.check_cancel()
        samples = level.draw()
        optimiser.zero_grad()
        total = metric(*level.values(coordinates(samples), samples))
        reg = model.regularization() if regularised else None
        if reg is not None:
            total = total + reg
        total.backward()
        optimiser.step(total.detach())
        pending.append(total.detach())
        if len(pending) == SYNC_EVERY or it == iterations - 1:
            values = torch.stack(pending).tolist()
            pending = []
            stop = converged(losses + values, run.options.tolerance)
            run.report(stage, lv, len(losses), values, iterations if stop else None)
            losses += values
            if stop:
                break
    optimiser.finish()


def _coordinate_map(model: torch.nn.Module, linear: torch.Tensor,
                    level: Level) -> Callable[[Samples | None], torch.Tensor]:
    """The map from fixed samples to their moving-image normalised coordinates under the current transform. What
    does not change within a level (the grids' frames, the fixed linear part of a deformable stage) is multiplied
    out once here: an iteration's own work is a few small products, not a chain of them."""
    pm = level.moving.physical_to_normalised
    if isinstance(model, LinearTransform):
        theta_of = normalised_map(model, level.normalised_to_physical, pm)

        def linear_coords(samples: Samples | None) -> torch.Tensor:
            return affine_points(level.normalised_points(samples), theta_of().float())
        return linear_coords
    theta = (pm @ linear @ level.normalised_to_physical)[:-1].float()
    b = (pm @ linear)[:-1, :-1].float().T

    def field_coords(samples: Samples | None) -> torch.Tensor:
        xn = level.normalised_points(samples)
        u = model.displacement(samples.flat if samples is not None else None)  # mm, in fixed space
        return affine_points(xn, theta) + u.reshape(xn.shape) @ b
    return field_coords


def _total_displacement(field: torch.nn.Module, linear: torch.Tensor, level: Level) -> np.ndarray:
    """T(x) - x on the finest fixed grid, in mm (LPS), as an array [..spatial, d]."""
    x = level.normalised_points(None).double() @ level.normalised_to_physical[:-1, :-1].T \
        + level.normalised_to_physical[:-1, -1]
    y = (x + field.displacement(None).double().reshape(x.shape)) @ linear[:-1, :-1].T + linear[:-1, -1]
    return (y - x).cpu().numpy()


def _intensity_scale(volume: Volume, mask: Volume | None) -> float:
    a = np.abs(volume.array[mask.array > 0] if mask is not None else volume.array).astype(np.float64)
    s = float(np.percentile(a[a > 0], 99.5)) if (a > 0).any() else 1.0
    return s if s > 0 else 1.0


def _scaled(volume: Volume, scale: float) -> Volume:
    return volume.with_array(volume.array.astype(np.float32) / np.float32(scale))
