"""A live loss curve: a table and a plot series in a chart, updated as progress events arrive."""
from __future__ import annotations

import numpy as np
import slicer


class LossChart:
    """Collects (step, loss) points of progress events; `update()` redraws (slicer.util.plot reuses its nodes)."""

    def __init__(self, title: str, xTitle: str = "iteration") -> None:
        self.title, self.xTitle = title, xTitle
        self.points: list[tuple[float, float]] = []
        self.nodes: dict = {}

    def add(self, event: dict) -> None:
        if event.get("loss") is not None:
            self.points.append((float(event.get("step", len(self.points))), float(event["loss"])))

    def update(self):
        """The chart node (None before the first point)."""
        if not self.points:
            return None
        chart = slicer.util.plot(np.array(self.points), xColumnIndex=0, columnNames=[self.xTitle, "loss"],
                                 title=self.title, nodes=self.nodes)
        chart.SetXAxisTitle(self.xTitle)
        chart.SetYAxisTitle("loss")
        return chart

    def removeNodes(self) -> None:
        """Forget the chart (used when a run is cancelled: nothing half-made stays in the scene)."""
        for key in ("chart", "table"):
            if self.nodes.get(key) is not None:
                slicer.mrmlScene.RemoveNode(self.nodes[key])
        for node in self.nodes.get("series", []):
            slicer.mrmlScene.RemoveNode(node)
        self.nodes.clear()
        self.points.clear()
