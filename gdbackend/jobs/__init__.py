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
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError


@dataclass(frozen=True)
class JobKind:
    target: str                            # "package.module:function"
    inputs: tuple[str, ...] = ()           # required input files
    optional_inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()          # required output files
    optional_outputs: tuple[str, ...] = ()

    def function(self) -> Callable:
        module, name = self.target.split(":")
        return getattr(importlib.import_module(module), name)


KINDS: dict[str, JobKind] = {
    "register": JobKind("gdbackend.jobs.register:run", ("fixed", "moving"), ("fixed_mask", "moving_mask"),
                        ("transform",), ("image",)),
    "segment.train": JobKind("gdbackend.jobs.segment:train", (), ("image", "label"), ("model",)),
    "segment.predict": JobKind("gdbackend.jobs.segment:predict", ("image", "model"), ("reference",), ("labels",)),
    "classify.predict": JobKind("gdbackend.jobs.classify:predict", ("image", "model"), (), ("probabilities",)),
    "detect.predict": JobKind("gdbackend.jobs.detect:predict", ("image", "model"), (), ("boxes",)),
}


@dataclass
class JobSpec:
    kind: str
    inputs: dict[str, Path]
    options: dict
    outputs: dict[str, Path]


def parse_spec(spec: dict, base: Path | None = None) -> JobSpec:
    """Check a spec (kind, inputs, options, outputs); relative paths are taken from `base`."""
    if not isinstance(spec, dict):
        raise InputError("A job spec is a JSON object with kind, inputs, options and outputs.")
    unknown = set(spec) - {"kind", "inputs", "options", "outputs"}
    if unknown:
        raise InputError(f"Unknown job spec field(s) {sorted(unknown)}: use kind, inputs, options, outputs.")
    name = spec.get("kind")
    if name not in KINDS:
        raise InputError(f"Unknown job kind {name!r}: this gdbackend runs {', '.join(sorted(KINDS))}.")
    kind = KINDS[name]
    options = spec.get("options", {})
    if not isinstance(options, dict):
        raise InputError("The job spec's options must be a JSON object of option names and values.")
    inputs = _paths(spec.get("inputs", {}), "inputs", kind.inputs, kind.optional_inputs, base)
    outputs = _paths(spec.get("outputs", {}), "outputs", kind.outputs, kind.optional_outputs, base)
    for key, path in inputs.items():
        if not path.is_file():
            raise InputError(f"Input {key!r} not found: {path}. Write the file before starting the job.")
    for key, path in outputs.items():
        if not path.parent.is_dir():
            raise InputError(f"Output {key!r} goes to {path.parent}, which does not exist: create the folder first.")
    return JobSpec(name, inputs, options, outputs)


def _paths(given, what: str, required: tuple[str, ...], optional: tuple[str, ...], base: Path | None) -> dict[str, Path]:
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
        if not isinstance(value, str):
            raise InputError(f"Job {what} {key!r} must be a file path (a string), got {value!r}.")
        path = Path(value)
        paths[key] = path if path.is_absolute() or base is None else base / path
    return paths
