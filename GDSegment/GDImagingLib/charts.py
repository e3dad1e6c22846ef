"""A live loss curve: one table, series and chart per panel, reused by each run and updated as progress
events arrive."""
from __future__ import annotations

import numpy as np
import slicer


class LossChart:
    """Collects (step, loss) points of a run; `update()` redraws through slicer.util.plot, which reuses the nodes
    it is given. The chart is shown in the view layout once per run, with its first point: showing it again
    on every event would switch back a layout the user changed while the job runs."""

    def __init__(self, title: str, xTitle: str = "iteration") -> None:
        self.title, self.xTitle = title, xTitle
        self.points: list[tuple[float, float]] = []
        self.nodes: dict = {}
        self._shown = False

    def start(self) -> None:
        """A new run: its points replace the last run's in the same chart."""
        self.points.clear()
        self._shown = False

    def add(self, event: dict) -> None:
        if event.get("loss") is not None:
            self.points.append((float(event.get("step", len(self.points))), float(event["loss"])))

    def update(self):
        """The chart node (None before the first point)."""
        if not self.points:
            return None
        if any(not slicer.mrmlScene.IsNodePresent(n) for n in self._ownNodes()):
            self.nodes.clear()  # the scene was closed or the user deleted the chart: make a new one
        chart = slicer.util.plot(np.array(self.points), xColumnIndex=0, columnNames=[self.xTitle, "loss"],
                                 title=self.title, show=not self._shown, nodes=self.nodes)
        self._shown = True
        chart.SetXAxisTitle(self.xTitle)
        chart.SetYAxisTitle("loss")
        return chart

    def removeNodes(self) -> None:
        """Forget the chart (a cancelled or failed run leaves nothing half-made in the scene)."""
        for node in self._ownNodes():
            if slicer.mrmlScene.IsNodePresent(node):
                slicer.mrmlScene.RemoveNode(node)
        self.nodes.clear()
        self.points.clear()

    def _ownNodes(self) -> list:
        return [n for n in (self.nodes.get("chart"), self.nodes.get("table"), *self.nodes.get("series", ()))
                if n is not None]
