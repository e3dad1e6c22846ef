"""The registration options, declared once: `register()`, `gd register`, the register job's schema and the GD
Register panel take their names, defaults, choices and units from `RegistrationOptions`, and the iteration
schedule (and so every progress total) from its `schedule()`.

No torch here: the Slicer panel reads this module before PyTorch is installed, and `gd --help` stays fast."""
from __future__ import annotations

import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from ..errors import InputError

LINEAR = ("translation", "rigid", "similarity", "affine")
DEFORMABLE = ("bspline", "dense")
TRANSFORMS = LINEAR + DEFORMABLE
METRICS = ("mse", "ncc", "lncc", "mi")
OPTIMIZERS = ("sgd", "adam", "gd")
INITIALISATIONS = ("centers", "moments", "none")
ROTATING = ("rigid", "similarity", "affine")
# the starting-rotation search (search.py): candidates this far apart, and how far it looks by default, per
# dimension: descent alone finds rotations up to about 90 deg (search.py), and in 3D the search costs a quarter of a
# 1 mm affine (0.25-0.45 s), so there it runs when asked for
SEARCH_STEP_DEG, SEARCH_WHOLE_DEG = 20.0, 180.0
SEARCH_DEFAULT_DEG = {2: SEARCH_WHOLE_DEG, 3: 0.0}
# what the result is: a matrix, the last bspline stage's control-point grid, or a displacement per fixed voxel
OUTPUT_TYPES = ("auto", "linear", "bspline", "displacement")
MAX_LEVELS = 6
# The default schedules. A linear stage's precision is set by its finest level, so it gets the most there (off the
# benchmark, 150/150/400 halved the error of 300/200/200 at the same cost). With mean squares or correlation,
# REFINE_STEPS Gauss-Newton steps (at most) then finish it, and they set its precision: with 50, 100 or 200
# stochastic iterations before them the mean TRE over 3 seeds was the same to sampling noise on D 1 mm and 2 mm,
# S1-S3 and CT, by mse and by ncc, and on the hard cases (turned, cropped), and 50 cost 11-22 % less CPU on D 1 mm.
# The coarser levels do count: 100 or 75 each instead of 150 left D 1 mm at 0.0044 or 0.0056 mm against 0.0037.
# A deformable stage's finest iterations are its dearest (they evaluate the whole field) and gained nothing from
# more, so it does its work on the coarse levels.
REFINED_METRICS, REFINE_STEPS = ("mse", "ncc"), 8
LINEAR_COARSE, LINEAR_FINEST, REFINED_FINEST = 150, 400, 50   # per coarser level, on the finest (refined: 50)
DEFORMABLE_COARSEST, DEFORMABLE_FINER = 300, 200  # on the coarsest, per finer level
GRID_SPACING_VOXELS, REGULARIZATION = 10.0, 0.05       # the deformable stages' defaults


def _option(default: Any, help: str, *, choices: tuple[str, ...] = (), flags: tuple[str, ...] = ()) -> Any:
    """A registration option; `help` says what it is and its unit (as `gd register --help` shows it)."""
    return field(default=default, metadata={"help": help, "choices": choices, "flags": flags})


@dataclass(frozen=True)
class RegistrationOptions:
    """How one registration runs. Build it with `from_values` (checks every value, InputError on a bad one)."""

    transform: str | tuple[str, ...] = _option(
        ("affine",), f"stages run in order, each starting from the previous result: one of {', '.join(TRANSFORMS)},"
        " or a list (on the command line joined by commas, e.g. rigid,affine,bspline); a deformable stage last")
    metric: str = _option("mse", "similarity to minimise: mean squares, normalised cross-correlation, local NCC "
                          "(whole grids, 9-voxel windows) or Mattes mutual information", choices=METRICS)
    levels: int = _option(3, f"resolution levels, 1-{MAX_LEVELS}; level i of n is shrunk by 2^(n-1-i)")
    iterations: int | tuple[int, ...] | None = _option(
        None, f"iterations per level, coarse to fine: one count for every level or one per level (none: "
        f"linear stages {LINEAR_COARSE} on each coarser level and {LINEAR_FINEST} on the finest ({REFINED_FINEST} "
        f"before up to {REFINE_STEPS} Gauss-Newton steps with {' or '.join(REFINED_METRICS)}), deformable stages "
        f"{DEFORMABLE_COARSEST} on the coarsest and {DEFORMABLE_FINER} on each finer level); a level may stop "
        "earlier by `tolerance`")
    optimizer: str = _option("sgd", "gd: full-batch descent with backtracking, sgd: random samples with a "
                             "decaying gain and averaging, adam: Adam with a cosine step", choices=OPTIMIZERS)
    learning_rate: float | None = _option(None, "step length in mm at the finest level, scaled by the shrink "
                                          "factor on coarser levels (none: the optimiser's own)")
    samples: int | None = _option(None, "random fixed points per iteration (0: every voxel; none: every voxel for "
                                  "gd and dense, else 8192, or 4096 for a 2D registration by mse, ncc or lncc)")
    tolerance: float = _option(1e-6, "relative change of the mean loss over 10 iterations that ends a level "
                               "(0: never stop early)")
    initialize: str = _option("centers", "initial translation: image centres, centres of mass, or none",
                              choices=INITIALISATIONS, flags=("--initialize", "--init"))
    rotation_search: float | None = _option(
        None, f"largest starting rotation, in degrees either way, that the first rigid, similarity or affine stage "
        f"tries about the centre (every {SEARCH_STEP_DEG:g} deg, about each axis in 3D) before its descent; not "
        "with initialize none (0: no search; none: 180 in 2D, none in 3D)")
    grid_spacing: float | None = _option(None, "final B-spline control point spacing in mm (none: "
                                         f"{GRID_SPACING_VOXELS:g} times the smallest fixed voxel spacing)")
    regularization: float | None = _option(None, "weight of the bending energy (bspline) or diffusion (dense) "
                                           f"against the metric, unitless (none: {REGULARIZATION:g})")
    diffeomorphic: bool = _option(False, "dense only: a stationary velocity field integrated by scaling and "
                                  "squaring")
    output_type: str = _option(
        "auto", "what the result is: linear (a matrix; linear stages only), bspline (the control-point grid of a "
        "last bspline stage with the linear stages folded in: exact inside the fixed image, identity outside it), "
        "displacement (a field on the fixed grid, mm); auto: linear for linear stages, else displacement",
        choices=OUTPUT_TYPES)
    device: str = _option("auto", "auto, cpu, cuda, cuda:N or mps")
    seed: int | None = _option(0, "random seed of the samples (none: unseeded)")

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> RegistrationOptions:
        """Checked options from option values by name (a job's options, `register()`'s keyword arguments)."""
        unknown = sorted(set(values) - set(DEFAULTS))
        if unknown:
            raise InputError(f"Unknown registration option(s) {unknown}: use {', '.join(DEFAULTS)}.")
        options = cls(**values)
        options.check()
        return options

    def __post_init__(self) -> None:
        stages = self.transform
        if isinstance(stages, str):
            stages = [s.strip() for s in stages.split(",") if s.strip()]
        object.__setattr__(self, "transform", tuple(stages))
        if isinstance(self.iterations, Sequence):
            object.__setattr__(self, "iterations", tuple(self.iterations))

    @property
    def stages(self) -> tuple[str, ...]:
        return self.transform

    def check(self) -> None:
        """Refuse any value the engine cannot run, naming the option and what to use instead."""
        bad = [s for s in self.stages if s not in TRANSFORMS]
        if not self.stages or bad:
            raise InputError(f"Unknown transform {bad or list(self.stages)}: use {', '.join(TRANSFORMS)} "
                             "(or a list of them).")
        if any(s in DEFORMABLE for s in self.stages[:-1]):
            raise InputError("A deformable stage must be the last one (e.g. rigid -> affine -> bspline).")
        for name in ("metric", "optimizer", "initialize", "output_type"):
            choices = OPTIONS[name].choices
            if getattr(self, name) not in choices:
                raise InputError(f"Unknown {name} {getattr(self, name)!r}: use {', '.join(choices)}.")
        self._check_output_type()
        if not 1 <= self.levels <= MAX_LEVELS:
            raise InputError(f"levels must be between 1 and {MAX_LEVELS}, got {self.levels}.")
        if self.iterations is not None:
            its = self.iterations if isinstance(self.iterations, tuple) else (self.iterations,)
            if len(its) not in (1, self.levels) or min(its) < 1:
                raise InputError(f"Give one positive iteration count, or one per level ({self.levels}), "
                                 f"got {list(its)}.")
        if self.samples is not None and self.samples < 0:
            raise InputError(f"samples must be >= 0 (0 = every voxel), got {self.samples}.")
        for name in ("learning_rate", "grid_spacing", "tolerance", "regularization", "rotation_search"):
            value = getattr(self, name)
            if value is not None and not value >= 0:
                raise InputError(f"{name} must be a number >= 0, got {value}.")

    def _check_output_type(self) -> None:
        last = self.stages[-1]
        if self.output_type == "linear" and last in DEFORMABLE:
            raise InputError(f"A linear result needs linear stages only, but the last stage is {last}: choose the "
                             f"output type {'bspline or ' if last == 'bspline' else ''}displacement, or drop the "
                             f"{last} stage.")
        if self.output_type == "bspline" and last != "bspline":
            other = "linear" if last in LINEAR else "displacement"
            raise InputError(f"A B-spline result is the control-point grid of a last bspline stage, but the last "
                             f"stage is {last}: choose the output type {other}, or end with a bspline stage.")

    def result_type(self) -> str:
        """The output type, `auto` resolved: linear, bspline or displacement."""
        if self.output_type != "auto":
            return self.output_type
        return "linear" if self.stages[-1] in LINEAR else "displacement"

    def schedule(self, stage: str) -> list[int]:
        """Iterations per level of `stage`, coarse to fine: at most this many run (a level may converge sooner)."""
        its = self.iterations
        if its is None:
            if stage in LINEAR:
                finest = REFINED_FINEST if self.refine_steps(stage) else LINEAR_FINEST
                return [LINEAR_COARSE] * (self.levels - 1) + [finest]
            return [DEFORMABLE_COARSEST] + [DEFORMABLE_FINER] * (self.levels - 1)
        its = its if isinstance(its, tuple) else (its,)
        return [int(i) for i in its] * (self.levels if len(its) == 1 else 1)

    def refine_steps(self, stage: str) -> int:
        """Gauss-Newton steps that end `stage`'s finest level (0: none), counted as iterations of that level."""
        return REFINE_STEPS if stage in LINEAR and self.metric in REFINED_METRICS else 0

    def total_iterations(self) -> int:
        """Every stage's schedule together: the progress total."""
        return sum(sum(self.schedule(stage)) + self.refine_steps(stage) for stage in self.stages)

    def samples_for(self, stage: str, dim: int) -> int:
        """Random fixed points per iteration of `stage` in a `dim`-D registration; 0: every voxel."""
        if self.samples is not None:
            return self.samples
        if self.optimizer == "gd" or stage == "dense":
            return 0    # a dense field has a parameter per voxel: every voxel must drive its own
        # mutual information fills a 64 x 64 joint histogram: 4096 samples, one a bin, left 2D case C 0.012 px off
        # over 5 seeds (0.004-0.017), 8192 0.0075 (0.006-0.010) for 13 % more time; the least-squares metrics end in
        # Gauss-Newton steps that remove the sampling noise, and 8192 cost A and B a third more for nothing
        return 4096 if dim == 2 and self.metric != "mi" else 8192

    def search_width(self, dim: int) -> float:
        """How far, in degrees, the starting-rotation search looks in a `dim`-D registration; 0: no search."""
        if self.initialize == "none":
            return 0.0      # the start is the user's own (an initial transform)
        return SEARCH_DEFAULT_DEG[dim] if self.rotation_search is None else self.rotation_search

    def field_spacing(self, voxel_mm: float) -> float:
        """The final B-spline control point spacing in mm, given the smallest fixed voxel spacing in mm."""
        return GRID_SPACING_VOXELS * voxel_mm if self.grid_spacing is None else self.grid_spacing

    def field_weight(self) -> float:
        """The deformable stage's regularisation weight."""
        return REGULARIZATION if self.regularization is None else self.regularization


@dataclass(frozen=True)
class Option:
    """One registration option, as a command line and a job spec take it."""
    name: str                   # the RegistrationOptions field and the job option
    flags: tuple[str, ...]      # the command-line flags
    types: tuple[type, ...]     # the JSON types a job may give (float: any number; NoneType: null)
    default: Any
    choices: tuple[str, ...]    # allowed values; empty: any of `types`
    help: str


def _json_types(hint: Any) -> tuple[type, ...]:
    kinds = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, type(int | None)) else (hint,)
    return tuple(dict.fromkeys(list if typing.get_origin(k) is tuple else k for k in kinds))


def _options() -> dict[str, Option]:
    hints = typing.get_type_hints(RegistrationOptions)
    return {f.name: Option(f.name, f.metadata["flags"] or ("--" + f.name.replace("_", "-"),),
                           _json_types(hints[f.name]), f.default, f.metadata["choices"], f.metadata["help"])
            for f in fields(RegistrationOptions)}


OPTIONS: dict[str, Option] = _options()
DEFAULTS: dict[str, Any] = {name: o.default for name, o in OPTIONS.items()}
JOB_TYPES: dict[str, tuple[type, ...]] = {name: o.types for name, o in OPTIONS.items()}


def _document() -> None:
    """The class's `Args:` section, written from the options' help so that it cannot drift from them."""
    lines = [f"        {o.name}: {o.help}. Default: {o.default!r}." for o in OPTIONS.values()]
    RegistrationOptions.__doc__ = f"{RegistrationOptions.__doc__}\n\n    Args:\n" + "\n".join(lines) + "\n"


_document()
