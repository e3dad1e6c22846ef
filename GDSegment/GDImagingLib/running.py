"""One backend job per panel section, watched from the GUI: Apply becomes Cancel, a timer polls the job,
the progress bar shows progress and ETA, the loss curve is plotted live, and results are placed
in the scene on the main thread when the job is done. A job that fails, is cancelled or dies leaves the
scene as it was (a node the user already had is restored), and its folder of temporary files is removed
in every case."""
from __future__ import annotations

import traceback
from collections.abc import Callable, Sequence

import qt
import slicer
from slicer.i18n import tr as _

from gdbackend.job import Job

from .charts import LossChart
from .jobs import readySpareProcess, removeJobFolder
from .nodes import removeNodesAddedSince, sceneNodeIDs

POLL_MS = 200


def formatSeconds(seconds: float | None) -> str:
    if seconds is None:
        return "estimating..."
    seconds = int(round(seconds))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


class NodeBackup:
    """A user's node as it was before a result is loaded into it: its content (segments, columns, transform,
    voxels) and its parent transform, put back if loading fails."""

    def __init__(self, node) -> None:
        self.node = node
        self.content = slicer.mrmlScene.CreateNodeByClass(node.GetClassName())
        self.content.UnRegister(None)  # CreateNodeByClass hands over a reference; Python keeps its own
        self.content.CopyContent(node, True)
        self.parent = node.GetTransformNodeID() if hasattr(node, "GetTransformNodeID") else None

    def restore(self) -> None:
        if not slicer.mrmlScene.IsNodePresent(self.node):
            return
        self.node.CopyContent(self.content, True)
        if hasattr(self.node, "SetAndObserveTransformNodeID"):
            self.node.SetAndObserveTransformNodeID(self.parent)


class JobController:
    """Drives one panel section's button, progress bar and status label while its job runs.

    Everything a job's end needs is fixed when it starts (`start`): how its result is applied (with the nodes
    chosen then, not whatever is selected when it ends), the input widgets locked meanwhile, and the user's
    nodes the result goes into, restored if loading the result fails. `onFinished` runs after every job, done,
    failed or cancelled, so the panel can update its buttons (and a batch start its next job: `lastState` is
    the end state of the last job). `log` gets the job's output as lines of text, for the panel's log pane;
    `prefix` starts every status line (a batch's "(2/5) MRHead:").
    """

    def __init__(self, button, progressBar, statusLabel, buttonText: str, chartTitle: str | None = None,
                 onFinished: Callable[[], None] | None = None, log: Callable[[str], None] | None = None) -> None:
        self.button, self.progressBar, self.statusLabel = button, progressBar, statusLabel
        self.buttonText = buttonText
        self.onFinished = onFinished
        self.log = log or (lambda line: None)
        self.prefix = ""
        self.showErrors = True  # a batch reports failures in the log and its summary, not a box per volume
        self.lastState: str | None = None
        self._logMark = None
        self.chart = LossChart(chartTitle) if chartTitle else None
        self.job: Job | None = None
        self._apply: Callable[[dict], object] | None = None
        self._locked: list = []
        self._keep: list = []
        self.timer = qt.QTimer()
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.poll)

    @property
    def running(self) -> bool:
        return self.job is not None and self.job.running

    def start(self, job: Job, apply: Callable[[dict], object], lock: Sequence = (), keep: Sequence = ()) -> None:
        """Watch `job`; `apply(result)` puts its result in the scene; `lock`: widgets disabled until it ends;
        `keep`: existing nodes the result fills (None entries are skipped)."""
        self.job, self._apply = job, apply
        self._locked = [w for w in lock if w.isEnabled()]
        self._keep = [n for n in keep if n is not None]
        for widget in self._locked:
            widget.setEnabled(False)
        if self.chart is not None:
            self.chart.start()
        self.button.setText(_("Cancel"))
        self.progressBar.setValue(0)
        self.progressBar.setVisible(True)
        self.setStatus(_("Starting..."))
        self._logMark = None
        self._log(f"{self.buttonText}: started ({job.spec_path.parent.name})")
        self.timer.start()

    def setStatus(self, text: str) -> None:
        self.statusLabel.setText(f"{self.prefix} {text}" if self.prefix else text)

    def _log(self, text: str) -> None:
        self.log(f"{self.prefix} {text}" if self.prefix else text)

    def poll(self) -> None:
        """Timer slot: take the job's new events; finish when it has ended."""
        events = self.job.poll()
        for event in events:
            if event.get("event") == "progress" and self.chart is not None:
                self.chart.add(event)
            elif event.get("event") == "message":
                slicer.util.showStatusMessage(event["message"], 5000)
                self._log(str(event["message"]))
            if event.get("event") == "progress":
                self._logProgress(event)
        progress = self.job.last_progress
        if progress is not None and self.job.running:
            self.progressBar.setValue(int(100 * progress["fraction"]))
            loss = f", loss {progress['loss']:.4g}" if progress.get("loss") is not None else ""
            self.setStatus(f"{100 * progress['fraction']:.0f} %{loss}, "
                           f"time left {formatSeconds(progress.get('eta_s'))}")
        if self.chart is not None and any(e.get("event") == "progress" for e in events):
            self.chart.update()
        if not self.job.running:
            self._finish()

    def _logProgress(self, event: dict) -> None:
        """A log line per epoch (a training) or per tenth of the work (other jobs), not one per event."""
        mark = event.get("epoch", int(10 * event.get("fraction", 0)))
        if mark != self._logMark:
            self._logMark = mark
            self._log(_logLine(event))

    def cancel(self) -> None:
        if self.running:
            self.setStatus(_("Cancelling..."))
            self.job.cancel()
            self._finish()

    def _finish(self) -> None:
        self.timer.stop()
        self.button.setText(self.buttonText)
        self.progressBar.setVisible(False)
        for widget in self._locked:
            widget.setEnabled(True)
        job, self.job = self.job, None
        self.lastState = job.state
        self._log(f"{self.buttonText}: {job.state}" + (f": {job.error}" if job.error else ""))
        if job.log:
            self.log(job.log)  # what the job process printed: warnings, library output
        try:
            if job.state == "done" and self._applyResult(job):
                return
            if self.chart is not None:
                self.chart.removeNodes()
            if job.state == "cancelled":
                self.setStatus(_("Cancelled: nothing was changed."))
            elif job.state != "done":
                self.setStatus(_("Failed: nothing was changed; see the error message."))
                if self.showErrors:
                    slicer.util.errorDisplay(_("The computation failed:") + f"\n{job.error}", detailedText=job.log)
        finally:
            self._apply, self._locked, self._keep = None, [], []
            removeJobFolder(job.spec_path)
            readySpareProcess(job.kind)  # the next job of this section starts at once too
            if self.onFinished is not None:
                self.onFinished()

    def _applyResult(self, job: Job) -> bool:
        """Results into the scene; if that fails half-way, the nodes it added are removed and the user's nodes
        it was filling are put back as they were. What `apply` returns, when it is text (e.g. the top class),
        ends the status line."""
        before = sceneNodeIDs()
        backups = [NodeBackup(node) for node in self._keep]
        try:
            summary = self._apply(job.result)
        except Exception as e:
            removeNodesAddedSince(before)
            for backup in backups:
                backup.restore()
            self.lastState = "failed"
            self.setStatus(_("Could not load the result: the scene is as it was."))
            self._log(f"Could not load the result: {e}")
            if self.showErrors:
                slicer.util.errorDisplay(_("Could not load the result into the scene:") + f"\n{e}",
                                         detailedText=traceback.format_exc())
            return False
        note = f" {job.messages[-1]}" if job.messages else ""  # e.g. why it took longer than usual
        note += f" {summary}" if isinstance(summary, str) else ""
        text = _("Done in {time}.").format(time=formatSeconds(job.result.get("seconds"))) + note
        self.setStatus(text)
        self._log(text)  # a batch's status line moves on to the next volume: the log keeps each one
        return True


def _logLine(event: dict) -> str:
    """A progress event as a log line: done so far, epoch, losses and metrics, message."""
    parts = [f"{100 * event.get('fraction', 0):.0f} %"]
    parts += [f"{k} {event[k]:.4g}" if isinstance(event[k], float) else f"{k} {event[k]}"
              for k in event if k in ("epoch", "loss") or k.startswith("val_")]
    return ", ".join(parts + ([str(event["message"])] if event.get("message") else []))
