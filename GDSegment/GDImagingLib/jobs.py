"""Backend jobs from Slicer: input nodes written to a job folder, a spec, and the job started in
PythonSlicer (or run here, synchronously, for the Python console and tests). No Qt."""
from __future__ import annotations

import json
import shutil
import sys
import tempfile
from collections.abc import Callable, Collection
from pathlib import Path
from typing import TypeVar

import slicer

from gdbackend.job import Job, run_spec

from .nodes import writeVolume

FOLDER_PREFIX = "GDImaging-"
# images a job exchanges with Slicer are uncompressed: gzip on Slicer's main thread costs seconds for a big volume
IMAGE_SUFFIX = ".nii"
T = TypeVar("T")


def pythonExecutable() -> str:
    """Slicer's own Python launcher (same site-packages as Slicer), else this interpreter."""
    return shutil.which("PythonSlicer") or sys.executable


def jobFolder(name: str) -> Path:
    """A new folder in Slicer's temporary folder, private to the user (0700): the inputs are patient images."""
    return Path(tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}{name}-", dir=slicer.app.temporaryPath))


def removeJobFolder(specPath: Path) -> None:
    """Delete a job's folder (inputs, spec, result files) once its results are in the scene."""
    folder = Path(specPath).parent
    if folder.name.startswith(FOLDER_PREFIX):  # only folders jobFolder made, never one a user chose
        shutil.rmtree(folder, ignore_errors=True)


def writeSpec(folder: Path, kind: str, inputNodes: dict, options: dict, outputs: dict[str, str],
              inputFiles: dict[str, str] | None = None, worldInputs: Collection[str] = ()) -> Path:
    """Write each input node as NIfTI beside the spec, in its own frame, or in world coordinates through its
    parent transforms for the keys in `worldInputs` (registration); outputs are file names inside `folder`."""
    inputs = {key: str(writeVolume(node, folder / f"{key}{IMAGE_SUFFIX}", key in worldInputs))
              for key, node in inputNodes.items() if node}
    inputs.update({k: str(v) for k, v in (inputFiles or {}).items() if v})
    spec = {"kind": kind, "inputs": inputs, "options": options,
            "outputs": {key: str(folder / name) for key, name in outputs.items()}}
    path = folder / "spec.json"
    path.write_text(json.dumps(spec, indent=1))
    return path


def startJob(specPath: Path) -> Job:
    """The job in its own process; poll it (GDImagingLib.running does, from a timer)."""
    return Job(specPath, python=pythonExecutable(), env=slicer.util.startupEnvironment())


def runJobHere(specPath: Path, apply: Callable[[dict], T], progress=None) -> T:
    """The same job in this process, blocking; `apply` gets the "done" event and reads the result files
    (into the scene), then the job folder is removed. Returns what `apply` returns."""
    try:
        return apply(run_spec(json.loads(Path(specPath).read_text()), emit=progress, base=Path(specPath).parent))
    finally:
        removeJobFolder(specPath)
