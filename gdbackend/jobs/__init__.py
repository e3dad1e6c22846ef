"""The job kinds the job runner knows, and how a job spec is checked.

A kind names the function that does the work and the input and output files it takes.
Adding a capability to the runner (and so to the Slicer panels) is one line in KINDS.
A job function is called as fn(inputs, options, outputs, context) -> summary dict, with
`inputs`/`outputs` mapping names to paths (outputs are staging paths the runner moves
into place only when the job succeeds) and `context` giving progress and cancel.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError
from ..register.options import JOB_TYPES as REGISTRATION
from ..resources import MODEL_BYTES, check_disk_space, check_writable
from ..train.options import JOB_TYPES

# JSON types of option values: a spec is checked before any work starts, so that a typo fails at once
# with the option's name, not later as a raw error from deep inside the job.
STR, INT, NUMBER, BOOL, LIST, NULL = str, int, float, bool, list, type(None)
DEVICE = {"device": (STR,)}
# the engine's options (gdbackend.train.options owns them), and the training data
TRAINING = {**JOB_TYPES, "data": (STR,), "augment": (BOOL,), "val_fraction": (NUMBER,)}
# segment.predict's 2nd, 3rd, ... input channels, in the model's channel order ("image" is the first)
MAX_CHANNELS = 8
CHANNEL_INPUTS = tuple(f"image_{k}" for k in range(2, MAX_CHANNELS + 1))


@dataclass(frozen=True)
class JobKind:
    target: str                            # "package.module:function"
    inputs: tuple[str, ...] = ()           # required input files
    optional_inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()          # required output files
    optional_outputs: tuple[str, ...] = ()
    options: dict[str, tuple[type, ...]] = field(default_factory=dict)  # option name -> allowed JSON types
    deferred: tuple[str, ...] = ()         # modules the function imports only when it runs (a spare loads them)

    def function(self) -> Callable:
        module, name = self.target.split(":")
        return getattr(importlib.import_module(module), name)

    def load(self) -> None:
        """Import everything a job of this kind needs, ahead of the job (what a spare job process does)."""
        self.function()
        for module in self.deferred:
            importlib.import_module(module)


KINDS: dict[str, JobKind] = {
    "register": JobKind(
        "gdbackend.jobs.register:run", ("fixed", "moving"), ("fixed_mask", "moving_mask"), ("transform",), ("image",),
        REGISTRATION, deferred=("gdbackend.register.engine", "gdbackend.volume")),
    "segment.train": JobKind(
        "gdbackend.jobs.segment:train", (), ("image", "label"), ("model",), (),
        {"labels": (STR, LIST), "network": (STR,), "patch": (LIST,), "spacing": (LIST,), "normalisation": (STR,),
         "loss": (STR,), "samples_per_case": (INT,), **TRAINING}),
    "segment.predict": JobKind(
        "gdbackend.jobs.segment:predict", ("image", "model"), ("reference", *CHANNEL_INPUTS), ("labels",), (),
        {"flips": (BOOL,), "largest_component": (BOOL,), "overlap": (NUMBER,), "reference_labels": (LIST, NULL),
         **DEVICE}),
    "classify.train": JobKind(
        "gdbackend.jobs.classify:train", (), (), ("model",), (),
        {"network": (STR,), "classes": (LIST, NULL), "size": (LIST,), "spacing": (LIST, NULL), "normalisation": (STR,),
         "margin": (NUMBER,), "balance": (STR,), "label_smoothing": (NUMBER,), **TRAINING}),
    "classify.predict": JobKind("gdbackend.jobs.classify:predict", ("image", "model"), (), ("probabilities",), (),
                                {"box": (LIST, NULL), **DEVICE}),
    "detect.train": JobKind(
        "gdbackend.jobs.detect:train", (), ("image", "label"), ("model",), (),
        {"architecture": (STR,), "spacing": (LIST,), "size": (INT, NULL), "patch_size": (LIST,),
         "patches_per_volume": (INT,), "crop": (INT, NULL), "min_size_mm": (NUMBER,), **TRAINING}),
    "detect.predict": JobKind("gdbackend.jobs.detect:predict", ("image", "model"), (), ("boxes",), (),
                              {"threshold": (NUMBER,), **DEVICE}),
    "models.fetch": JobKind("gdbackend.jobs.models:fetch", options={"name": (STR,), "registry": (STR, NULL)}),
}


@dataclass
class JobSpec:
    kind: str
    inputs: dict[str, Path]
    options: dict
    outputs: dict[str, Path]


def parse_spec(spec: dict, base: Path | None = None) -> JobSpec:
    """Check a spec (kind, inputs, options, outputs), its files and the room for its outputs; relative
    paths are taken from `base`."""
    if not isinstance(spec, dict):
        raise InputError("A job spec is a JSON object with kind, inputs, options and outputs.")
    unknown = set(spec) - {"kind", "inputs", "options", "outputs"}
    if unknown:
        raise InputError(f"Unknown job spec field(s) {sorted(unknown)}: use kind, inputs, options, outputs.")
    name = spec.get("kind")
    if not isinstance(name, str) or name not in KINDS:
        raise InputError(f"Unknown job kind {name!r}: this gdbackend runs {', '.join(sorted(KINDS))}.")
    kind = KINDS[name]
    options = spec.get("options", {})
    if not isinstance(options, dict):
        raise InputError("The job spec's options must be a JSON object of option names and values.")
    _check_options(name, options, kind.options)
    inputs = _paths(spec.get("inputs", {}), "inputs", kind.inputs, kind.optional_inputs, base)
    outputs = _paths(spec.get("outputs", {}), "outputs", kind.outputs, kind.optional_outputs, base)
    for key, path in inputs.items():
        if not (path.is_file() or (key == "model" and path.is_dir())):  # a model may be a MONAI bundle folder
            raise InputError(f"Input {key!r} not found: {path}. Write the file before starting the job.")
    _check_outputs(inputs, outputs)
    return JobSpec(name, inputs, options, outputs)


def _check_options(kind: str, options: dict, allowed: dict[str, tuple[type, ...]]) -> None:
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise InputError(f"Unknown {kind} option(s) {unknown}: use {', '.join(sorted(allowed))}.")
    for key, value in options.items():
        if not any(_fits(value, t) for t in allowed[key]):
            names = " or ".join(_TYPE_NAMES[t] for t in allowed[key])
            raise InputError(f"The {kind} option {key!r} must be {names}, got {value!r}.")


_TYPE_NAMES = {STR: "a string", INT: "an integer", NUMBER: "a number", BOOL: "true or false", LIST: "a list",
               NULL: "null"}


def _fits(value, t: type) -> bool:
    if isinstance(value, bool) or t is BOOL:  # JSON true/false are not numbers, and numbers not booleans
        return isinstance(value, bool) and t is BOOL
    return isinstance(value, (int, float)) if t is NUMBER else isinstance(value, t)


def _check_outputs(inputs: dict[str, Path], outputs: dict[str, Path]) -> None:
    """Outputs go to distinct files, none an input, in existing writable folders with room for them.
    Room: a model file, or as much as the inputs take (label maps, resampled images, tables are no bigger)."""
    resolved = [p.resolve() for p in outputs.values()]
    if len(set(resolved)) < len(resolved):
        raise InputError("Two job outputs go to the same file: give each output its own file name.")
    clash = sorted(k for k, p in outputs.items() if p.resolve() in {q.resolve() for q in inputs.values()})
    if clash:
        raise InputError(f"Job output(s) {clash} would overwrite an input: write them to other files.")
    input_bytes = sum(p.stat().st_size for p in inputs.values())
    needed: dict[Path, int] = {}
    for key, path in outputs.items():
        if not path.parent.is_dir():
            raise InputError(f"Output {key!r} goes to {path.parent}, which does not exist: create the folder first.")
        check_writable(path.parent, f"{key!r} output")
        size = MODEL_BYTES if path.suffix == ".pt" else input_bytes
        needed[path.parent.resolve()] = needed.get(path.parent.resolve(), 0) + size
    for folder, size in needed.items():
        check_disk_space(folder, size, "the job's outputs")


def _paths(given, what: str, required: tuple[str, ...], optional: tuple[str, ...],
           base: Path | None) -> dict[str, Path]:
    if not isinstance(given, dict):
        raise InputError(f"The job spec's {what} must be a JSON object of names and file paths.")
    missing = [k for k in required if not given.get(k)]
    extra = [k for k in given if k not in required + optional]
    if missing or extra:
        raise InputError(f"Job {what}: missing {missing}, unknown {extra}; "
                         f"expected {list(required)} and optionally {list(optional)}.")
    paths = {}
    for key, value in given.items():
        if value is None:
            continue
        if not isinstance(value, str) or "\0" in value:
            raise InputError(f"Job {what} {key!r} must be a file path (a string), got {value!r}.")
        path = Path(value)
        paths[key] = path if path.is_absolute() or base is None else base / path
    return paths
