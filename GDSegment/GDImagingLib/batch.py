"""A panel section applied to several volumes of the scene, or to every image file of a folder, one job after
another through the section's JobController: (i/N) and the input's name start each status line, every result is
named after its input, a failure (a file that cannot be read, a volume without voxels) is written to the log (no
error box per input) and the rest go on, the summary names the inputs that failed, and Cancel stops the running job
and starts no more (a job's outputs are moved into place only when it succeeds: a cancelled one leaves none)."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import slicer
from slicer.i18n import tr as _

from gdbackend.volume import IMAGE_SUFFIXES

from .running import JobController


def sceneVolumes() -> list:
    """The scalar volumes of the scene a user would pick (label maps and hidden nodes left out), in scene order."""
    scene = slicer.mrmlScene
    volumes = (scene.GetNthNodeByClass(i, "vtkMRMLScalarVolumeNode")
               for i in range(scene.GetNumberOfNodesByClass("vtkMRMLScalarVolumeNode")))
    return [v for v in volumes if not v.IsA("vtkMRMLLabelMapVolumeNode") and not v.GetHideFromEditors()]


def folderImages(folder: Path) -> list[Path]:
    """The image files directly in `folder` (by their suffix, hidden files left out), sorted by name. Whether each
    one reads is found when its job reads it: one that does not is reported and skipped."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder: choose the folder of the images to process.")
    images = sorted(path for path in folder.iterdir() if path.is_file() and not path.name.startswith(".")
                    and path.name.lower().endswith(IMAGE_SUFFIXES))
    if not images:
        raise ValueError(f"{folder} holds no image files ({', '.join(IMAGE_SUFFIXES)}).")
    return images


def resultsFolder(folder: Path, section: str) -> Path:
    """Where a folder batch writes its result files: a sub-folder of the input folder, made now. A run again
    replaces the result files of the same inputs there (they are GDImaging's, named after their inputs)."""
    out = Path(folder) / f"GDImaging {section}"
    out.mkdir(exist_ok=True)
    return out


class Batch:
    """Runs `startOne(input)` (which starts a job on `runner`) for each input in turn: volume nodes, or image
    files (Paths); `advance()` is called by the panel when a job has finished and starts the next one. Each
    volume's ID is kept, not the node, so a volume deleted while the batch runs is skipped."""

    def __init__(self, runner: JobController, inputs: list, startOne: Callable[[object], None]) -> None:
        self.runner, self.startOne = runner, startOne
        self.pending = [i if isinstance(i, Path) else i.GetID() for i in inputs]
        self.what = _("files") if any(isinstance(i, Path) for i in inputs) else _("volumes")
        self.total = len(self.pending)
        self.failed: list[str] = []
        self.current: str | None = None

    @property
    def running(self) -> bool:
        return self.current is not None

    def start(self) -> None:
        self.runner.showErrors = False
        self._next()

    def advance(self) -> bool:
        """After a job ended: start the next volume unless it was cancelled; True while the batch goes on."""
        if self.current is None:
            return False
        state, name = self.runner.lastState, self.current
        if state == "cancelled":
            done = self.total - len(self.pending) - 1
            self.pending.clear()
            self._end(_("Cancelled after {done} of {total} {what}: the rest were not started.").format(
                done=done, total=self.total, what=self.what))
            return False
        if state != "done":
            self.failed.append(name)
        return self._next()

    def _next(self) -> bool:
        while self.pending:
            key = self.pending.pop(0)
            item = key if isinstance(key, Path) else slicer.mrmlScene.GetNodeByID(key)
            if item is None:
                continue
            index = self.total - len(self.pending)
            self.current = item.name if isinstance(item, Path) else item.GetName()
            self.runner.prefix = f"({index}/{self.total}) {self.current}:"
            try:
                self.startOne(item)
                return True
            except Exception as e:  # this input could not be written or checked: say so, go on with the rest
                self.failed.append(self.current)
                self.runner.log(f"{self.runner.prefix} {e}")
        failed = ", ".join(self.failed)
        self._end(_("Done: {n} {what}.").format(n=self.total, what=self.what) if not failed else
                  _("Done: {ok} of {n} {what}; failed: {failed} (see the log).").format(
                      ok=self.total - len(self.failed), n=self.total, what=self.what, failed=failed))
        return False

    def _end(self, text: str) -> None:
        self.current = None
        self.runner.prefix, self.runner.showErrors = "", True
        self.runner.setStatus(text)
        self.runner.log(text)
