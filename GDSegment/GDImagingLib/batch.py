"""A panel section applied to several volumes, one job after another through the section's JobController:
(i/N) and the volume's name start each status line, every result is named after its volume, a failure is
written to the log (no error box per volume) and the rest go on, the summary names the volumes that failed,
and Cancel stops the running job and starts no more."""
from __future__ import annotations

from collections.abc import Callable

import slicer
from slicer.i18n import tr as _

from .running import JobController


def sceneVolumes() -> list:
    """The scalar volumes of the scene a user would pick (label maps and hidden nodes left out), in scene order."""
    scene = slicer.mrmlScene
    volumes = (scene.GetNthNodeByClass(i, "vtkMRMLScalarVolumeNode")
               for i in range(scene.GetNumberOfNodesByClass("vtkMRMLScalarVolumeNode")))
    return [v for v in volumes if not v.IsA("vtkMRMLLabelMapVolumeNode") and not v.GetHideFromEditors()]


class Batch:
    """Runs `startOne(volume)` (which starts a job on `runner`) for each volume in turn; `advance()` is called
    by the panel when a job has finished and starts the next one. Each volume's ID is kept, not the node, so a
    volume deleted while the batch runs is skipped."""

    def __init__(self, runner: JobController, volumes: list, startOne: Callable[[object], None]) -> None:
        self.runner, self.startOne = runner, startOne
        self.pending = [v.GetID() for v in volumes]
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
            self._end(_("Cancelled after {done} of {total} volumes: the rest were not started.").format(
                done=done, total=self.total))
            return False
        if state != "done":
            self.failed.append(name)
        return self._next()

    def _next(self) -> bool:
        while self.pending:
            volume = slicer.mrmlScene.GetNodeByID(self.pending.pop(0))
            if volume is None:
                continue
            index = self.total - len(self.pending)
            self.current = volume.GetName()
            self.runner.prefix = f"({index}/{self.total}) {self.current}:"
            try:
                self.startOne(volume)
                return True
            except Exception as e:  # this volume could not be written or checked: say so, go on with the rest
                self.failed.append(self.current)
                self.runner.log(f"{self.runner.prefix} {e}")
        failed = ", ".join(self.failed)
        self._end(_("Done: {n} volumes.").format(n=self.total) if not failed else
                  _("Done: {ok} of {n} volumes; failed: {failed} (see the log).").format(
                      ok=self.total - len(self.failed), n=self.total, failed=failed))
        return False

    def _end(self, text: str) -> None:
        self.current = None
        self.runner.prefix, self.runner.showErrors = "", True
        self.runner.setStatus(text)
        self.runner.log(text)
