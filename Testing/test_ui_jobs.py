"""A panel running a real background job with real Qt widgets (the GDRegister .ui): Apply becomes Cancel,
a timer polls the job while the event loop stays free, progress and the loss chart update live, the result
lands in the scene on the main thread; cancel, a killed job process or a result that fails to load leave
nothing in the scene or on disk."""
from __future__ import annotations

import logging
import os
import signal
import stat
import time
from pathlib import Path

from gdbackend.sample_data import itk_example
from gdbackend.volume import Volume
from slicer_double import ROOT, load
from slicer_double.qt_widgets import loadUI

GDRegister = load("GDRegister")
import slicer  # noqa: E402

from GDImagingLib import nodes, results  # noqa: E402
from GDImagingLib.jobs import startJob  # noqa: E402
from GDImagingLib.running import JobController  # noqa: E402


def panel():
    """The real .ui widgets, a fixed/moving pair of real slices, and a controller applying results."""
    load("GDRegister")
    ui = loadUI(ROOT / "GDRegister/Resources/UI/GDRegister.ui")
    fixed = nodes.addVolumeNode(Volume.read(itk_example("BrainProtonDensitySliceBorder20.png")), "fixed")
    moving = nodes.addVolumeNode(Volume.read(itk_example("BrainProtonDensitySliceShifted13x17y.png")), "moving")
    logic = GDRegister.GDRegisterLogic()
    done = []

    def on_done(result):
        done.append(logic.applyResult(result, fixed, moving))

    from PySide6.QtWidgets import QWidget
    widgets = {w: ui.findChild(QWidget, w) for w in ("applyButton", "progressBar", "statusLabel")}
    runner = JobController(widgets["applyButton"], widgets["progressBar"], widgets["statusLabel"], "Apply",
                           chartTitle="Registration loss")
    runner.apply = on_done
    return ui, widgets, runner, logic, fixed, moving, done


def begin(runner, spec):
    runner.start(startJob(spec), runner.apply)


def errors(caplog) -> list[str]:
    """What Slicer's error boxes would have said (in testing mode, slicer.util logs them instead)."""
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def spin(runner, seconds: float, until=None) -> list[float]:
    """Run the Qt event loop (as Slicer's would) until the job ends or `until()`; returns loop-turn gaps."""
    from PySide6.QtWidgets import QApplication
    gaps, last, end = [], time.perf_counter(), time.perf_counter() + seconds
    while runner.running and time.perf_counter() < end and not (until and until()):
        QApplication.processEvents()
        time.sleep(0.01)
        now = time.perf_counter()
        gaps.append(now - last)
        last = now
    return gaps


def test_apply_runs_in_the_background_with_live_progress_and_places_the_result():
    ui, w, runner, logic, fixed, moving, done = panel()
    spec = logic.prepareJob(fixed, moving, transform="translation", levels=2, iterations=300, device="cpu")
    begin(runner, spec)
    assert w["applyButton"].text == "Cancel" and w["progressBar"].isVisibleTo(ui)
    values = []
    gaps = spin(runner, 60, until=lambda: values.append(w["progressBar"].value) and False)
    assert not runner.running and done, w["statusLabel"].text
    assert max(gaps) < 0.5, "the event loop was blocked: the window would freeze"
    assert w["applyButton"].text == "Apply" and not w["progressBar"].isVisibleTo(ui)
    assert w["statusLabel"].text.startswith("Done in")
    assert any(0 < v < 100 for v in values)
    chart = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLPlotChartNode")
    series = chart.GetNthPlotSeriesNode(0)
    table = series.GetTableNode()
    assert chart.GetTitle() == "Registration loss" and table.GetNumberOfRows() >= 2
    assert series.GetXColumnName() == "iteration" and series.GetYColumnName() == "loss"
    assert moving.GetTransformNodeID() == done[0].GetID()
    assert not Path(spec).parent.exists()  # inputs, spec and result files are removed once in the scene


def test_cancel_stops_the_job_and_leaves_nothing_behind():
    ui, w, runner, logic, fixed, moving, done = panel()
    spec = logic.prepareJob(fixed, moving, transform="affine", levels=1, iterations=10 ** 6, device="cpu",
                            tolerance=0)
    nodes_before = slicer.mrmlScene.GetNumberOfNodes()
    begin(runner, spec)
    spin(runner, 60, until=lambda: slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLPlotChartNode") is not None)
    assert runner.running and slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLPlotChartNode") is not None
    start = time.perf_counter()
    runner.cancel()
    assert time.perf_counter() - start < 1.0
    assert not runner.running and not done
    assert w["applyButton"].text == "Apply" and "Cancelled" in w["statusLabel"].text
    assert slicer.mrmlScene.GetNumberOfNodes() == nodes_before  # the live chart is gone too
    assert moving.GetTransformNodeID() is None
    assert not Path(spec).parent.exists()  # the job's files are removed


def test_a_killed_job_is_reported_and_the_scene_is_unchanged(caplog):
    ui, w, runner, logic, fixed, moving, done = panel()
    spec = logic.prepareJob(fixed, moving, transform="affine", levels=1, iterations=10 ** 6, device="cpu",
                            tolerance=0)
    assert stat.S_IMODE(Path(spec).parent.stat().st_mode) == 0o700  # patient images: private to the user
    nodes_before = slicer.mrmlScene.GetNumberOfNodes()
    begin(runner, spec)
    spin(runner, 60, until=lambda: slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLPlotChartNode") is not None)
    assert runner.running
    os.killpg(runner.job.process.pid, signal.SIGKILL)  # as the system's out-of-memory killer would
    spin(runner, 10)
    assert not runner.running and not done
    shown = errors(caplog)
    assert len(shown) == 1 and "ended unexpectedly (signal SIGKILL)" in shown[0] and "memory" in shown[0]
    assert w["applyButton"].text == "Apply" and w["statusLabel"].text.startswith("Failed: nothing was changed")
    assert slicer.mrmlScene.GetNumberOfNodes() == nodes_before and moving.GetTransformNodeID() is None
    assert not Path(spec).parent.exists()


def test_a_result_that_fails_to_load_half_way_leaves_the_scene_unchanged(caplog):
    ui, w, runner, logic, fixed, moving, done = panel()

    def half_load(result):
        logic.applyResult(result, fixed, moving)  # a transform node, and the moving volume placed under it
        moving.SetAndObserveTransformNodeID(None)
        slicer.mrmlScene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "half-made")
        raise OSError("disk read error")

    runner.apply = half_load
    spec = logic.prepareJob(fixed, moving, transform="translation", levels=1, iterations=20, device="cpu")
    nodes_before = slicer.mrmlScene.GetNumberOfNodes()
    begin(runner, spec)
    spin(runner, 60)
    assert not runner.running
    shown = errors(caplog)
    assert len(shown) == 1 and "Could not load the result" in shown[0] and "disk read error" in shown[0]
    assert "the scene is as it was" in w["statusLabel"].text
    assert slicer.mrmlScene.GetNumberOfNodes() == nodes_before
    assert slicer.mrmlScene.GetFirstNodeByName("half-made") is None
    assert not Path(spec).parent.exists()


def test_one_chart_per_panel_shown_once_a_run():
    """The loss chart is reused run after run, and shown in the layout once a run: a user who switches back to
    their layout while the job runs keeps it."""
    ui, w, runner, logic, fixed, moving, done = panel()
    layout = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLLayoutNode")
    users = slicer.vtkMRMLLayoutNode.SlicerLayoutFourUpView
    for run in range(2):
        layout.SetViewArrangement(users)
        switches = []

        def user_switches_back():
            if layout.GetViewArrangement() != users:
                switches.append(layout.GetViewArrangement())
                layout.SetViewArrangement(users)
            return False

        begin(runner, logic.prepareJob(fixed, moving, transform="translation", levels=2, iterations=300,
                                       device="cpu", tolerance=0))
        spin(runner, 60, until=user_switches_back)
        assert not runner.running and len(switches) == 1, switches
    scene = slicer.mrmlScene
    assert [scene.GetNumberOfNodesByClass(c) for c in ("vtkMRMLPlotChartNode", "vtkMRMLPlotSeriesNode",
                                                       "vtkMRMLTableNode")] == [1, 1, 1]


def test_a_failed_load_puts_back_the_users_table(caplog):
    ui, w, runner, logic, fixed, moving, done = panel()
    table = results.updateTableFromRows(None, [{"mine": 1.0, "note": "keep"}])

    def fill_then_fail(result):
        results.updateTableFromRows(table, [{"theirs": 2.0}])
        raise OSError("disk read error")

    runner.start(startJob(logic.prepareJob(fixed, moving, transform="translation", levels=1, iterations=20,
                                           device="cpu")), fill_then_fail, keep=[table])
    spin(runner, 60)
    assert not runner.running and errors(caplog)
    assert [table.GetColumnName(c) for c in range(table.GetNumberOfColumns())] == ["mine", "note"]
    assert (table.GetCellText(0, 0), table.GetCellText(0, 1)) == ("1", "keep")
