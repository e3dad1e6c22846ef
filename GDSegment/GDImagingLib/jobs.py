"""Backend jobs from Slicer: input nodes written to a job folder, a spec, and the job started in
PythonSlicer (or run here, synchronously, for the Python console and tests). No Qt.

A panel that is shown readies a spare job process (`readySpareProcess`): it imports torch while the user chooses
inputs, so that Apply starts the work at once instead of after seconds of imports. One spare serves whichever
panel starts a job next. None is started in testing mode (`Slicer --testing`: tests start their own processes)
or with the setting "GDImaging/spareProcess" = "false" (to save the few hundred MB an idle process with torch
holds)."""
from __future__ import annotations

import json
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import slicer

from gdbackend.job import Job, Spare, run_spec

from . import settings
from .nodes import writeVolume

FOLDER_PREFIX = "GDImaging-"
# images a job exchanges with Slicer are uncompressed: gzip on Slicer's main thread costs seconds for a big volume
IMAGE_SUFFIX = ".nii"
T = TypeVar("T")
SPARE_SETTING = "spareProcess"
_spare: Spare | None = None  # the one spare job process, shared by the panels


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
              inputFiles: dict[str, str] | None = None) -> Path:
    """Write each input node as NIfTI beside the spec, in its own frame (`inputFiles`: inputs the caller wrote
    itself); outputs are file names inside `folder`."""
    inputs = {key: str(writeVolume(node, folder / f"{key}{IMAGE_SUFFIX}")) for key, node in inputNodes.items() if node}
    inputs.update({k: str(v) for k, v in (inputFiles or {}).items() if v})
    spec = {"kind": kind, "inputs": inputs, "options": options,
            "outputs": {key: str(folder / name) for key, name in outputs.items()}}
    path = folder / "spec.json"
    path.write_text(json.dumps(spec, indent=1))
    return path


def readySpareProcess(kind: str) -> None:
    """Start a spare job process that loads what a `kind` job needs (see gdbackend.jobs.KINDS), unless one is
    already waiting or spares are turned off."""
    global _spare
    if (slicer.app.testingEnabled() or settings.value(SPARE_SETTING, "true") == "false"
            or (_spare is not None and _spare.alive())):
        return
    _spare = Spare(kind, python=pythonExecutable(), env=slicer.util.startupEnvironment())


def closeSpareProcess() -> None:
    """End the waiting spare, if any (a module going away; Slicer's exit ends it anyway, closing its input). A spare
    still importing is killed rather than waited for: it holds nothing, and Slicer must not hang on it."""
    global _spare
    if _spare is not None:
        _spare.close(grace=0.2)
        _spare = None


def startJob(specPath: Path) -> Job:
    """The job in the spare process if one is waiting, else in a new one; poll it (GDImagingLib.running does,
    from a timer)."""
    global _spare
    spare, _spare = _spare, None
    return Job(specPath, python=pythonExecutable(), env=slicer.util.startupEnvironment(), spare=spare)


def runJobHere(specPath: Path, apply: Callable[[dict], T], progress=None) -> T:
    """The same job in this process, blocking; `apply` gets the "done" event and reads the result files
    (into the scene), then the job folder is removed. Returns what `apply` returns."""
    try:
        return apply(run_spec(json.loads(Path(specPath).read_text()), emit=progress, base=Path(specPath).parent))
    finally:
        removeJobFolder(specPath)
