"""One backend job per panel, watched from the GUI: Apply becomes Cancel, a timer polls the job,
the progress bar shows progress and ETA, the loss curve is plotted live, and results are placed
in the scene on the main thread when the job is done. A job that fails, is cancelled or dies leaves the
scene as it was, and its folder of temporary files is removed in every case."""
from __future__ import annotations

import traceback
from collections.abc import Callable

import qt
import slicer

from gdbackend.job import Job

from .charts import LossChart
from .jobs import removeJobFolder

POLL_MS = 200


def formatSeconds(seconds: float | None) -> str:
    if seconds is None:
        return "estimating..."
    seconds = int(round(seconds))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


class JobController:
    """Drives one panel's button, progress bar and status label while a job runs."""

    def __init__(self, button, progressBar, statusLabel, onDone: Callable[[dict], None],
                 buttonText: str, chartTitle: str | None = None) -> None:
        self.button, self.progressBar, self.statusLabel = button, progressBar, statusLabel
        self.buttonText = buttonText
        self.onDone = onDone
        self.chartTitle = chartTitle
        self.job: Job | None = None
        self.chart: LossChart | None = None
        self.timer = qt.QTimer()
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.poll)

    @property
    def running(self) -> bool:
        return self.job is not None and self.job.running

    def start(self, job: Job) -> None:
        self.job = job
        self.chart = LossChart(self.chartTitle) if self.chartTitle else None
        self.button.setText("Cancel")
        self.progressBar.setValue(0)
        self.progressBar.setVisible(True)
        self.statusLabel.setText("Starting...")
        self.timer.start()

    def poll(self) -> None:
        """Timer slot: take the job's new events; finish when it has ended."""
        events = self.job.poll()
        for event in events:
            if event.get("event") == "progress" and self.chart is not None:
                self.chart.add(event)
            elif event.get("event") == "message":
                slicer.util.showStatusMessage(event["message"], 5000)
        progress = self.job.last_progress
        if progress is not None and self.job.running:
            self.progressBar.setValue(int(100 * progress["fraction"]))
            loss = f", loss {progress['loss']:.4g}" if progress.get("loss") is not None else ""
            self.statusLabel.setText(f"{100 * progress['fraction']:.0f} %{loss}, "
                                     f"time left {formatSeconds(progress.get('eta_s'))}")
        if self.chart is not None and any(e.get("event") == "progress" for e in events):
            self.chart.update()
        if not self.job.running:
            self._finish()

    def cancel(self) -> None:
        if self.running:
            self.statusLabel.setText("Cancelling...")
            self.job.cancel()
            self._finish()

    def _finish(self) -> None:
        self.timer.stop()
        self.button.setText(self.buttonText)
        self.progressBar.setVisible(False)
        job, self.job = self.job, None
        try:
            if job.state == "done" and self._apply(job):
                return
            if self.chart is not None:
                self.chart.removeNodes()
            if job.state == "cancelled":
                self.statusLabel.setText("Cancelled: nothing was changed.")
            elif job.state != "done":
                self.statusLabel.setText("Failed: nothing was changed; see the error message.")
                slicer.util.errorDisplay(f"The computation failed:\n{job.error}", detailedText=job.log)
        finally:
            removeJobFolder(job.spec_path)

    def _apply(self, job: Job) -> bool:
        """Results into the scene; if that fails half-way, the nodes it added are removed again."""
        before = sceneNodeIDs()
        try:
            self.onDone(job.result)
        except Exception as e:
            removeNodesAddedSince(before)
            self.statusLabel.setText("Could not load the result: nothing was added to the scene.")
            slicer.util.errorDisplay(f"Could not load the result into the scene:\n{e}",
                                     detailedText=traceback.format_exc())
            return False
        note = f" {job.messages[-1]}" if job.messages else ""  # e.g. why it took longer than usual
        self.statusLabel.setText(f"Done in {formatSeconds(job.result.get('seconds'))}.{note}")
        return True


def sceneNodeIDs() -> set[str]:
    scene = slicer.mrmlScene
    return {scene.GetNthNode(i).GetID() for i in range(scene.GetNumberOfNodes())}


def removeNodesAddedSince(before: set[str]) -> None:
    scene = slicer.mrmlScene
    added = [scene.GetNthNode(i) for i in range(scene.GetNumberOfNodes())]
    for node in reversed([n for n in added if n.GetID() not in before]):  # display nodes before their owners
        scene.RemoveNode(node)
