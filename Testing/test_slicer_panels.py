"""The GD panels as Slicer builds them (ScriptedLoadableModuleWidget without a parent runs setup(): loadUI,
childWidgetVariables, connectGui), on real Slicer Core with real background jobs: the panel opens, a job's
nodes are fixed and its inputs locked when it starts, the sections of GD Segment run side by side and stay
usable after a failure, and closing the scene stops what fills the scene but asks before stopping a training."""
from __future__ import annotations

import subprocess
import sys
import time

import numpy as np

from gdbackend.sample_data import itk_example
from gdbackend.volume import Volume
from slicer_double import ROOT, load

load("GDRegister")
import slicer  # noqa: E402

from GDImagingLib import nodes  # noqa: E402


def spin(until, seconds: float = 120) -> None:
    """Slicer's event loop until `until()` (the panels poll their jobs from timers)."""
    end = time.perf_counter() + seconds
    while not until() and time.perf_counter() < end:
        slicer.app.processEvents()
        time.sleep(0.01)
    assert until(), "timed out"


def slices():
    fixed = nodes.addVolumeNode(Volume.read(itk_example("BrainProtonDensitySliceBorder20.png")), "fixed")
    moving = nodes.addVolumeNode(Volume.read(itk_example("BrainProtonDensitySliceShifted13x17y.png")), "moving")
    return fixed, moving


def test_the_register_panel_opens_with_its_parameters_bound(slicer_panel):
    widget = slicer_panel("GDRegister")
    p = widget._parameterNode
    assert p is not None and p.outputTransform is None and p.transform == "rigid"
    assert widget.ui.transformComboBox.currentText == "rigid"  # connectGui showed the parameter
    widget.ui.levelsSpinBox.value = 2
    assert p.levels == 2  # and the widget writes it back


def test_a_registration_lands_on_the_volumes_chosen_when_it_started(slicer_panel):
    widget = slicer_panel("GDRegister")
    fixed, moving = slices()
    other = nodes.addVolumeNode(Volume.read(itk_example("BrainProtonDensitySliceBorder20.png")), "other")
    p = widget._parameterNode
    p.fixedVolume, p.movingVolume, p.transform, p.iterations, p.device = fixed, moving, "translation", 150, "cpu"
    widget.ui.applyButton.click()
    assert widget.runner.running and widget.ui.applyButton.text == "Cancel"
    assert not widget.ui.movingVolumeSelector.enabled and not widget.ui.transformComboBox.enabled  # locked
    p.movingVolume = other  # e.g. from the Python console: the running job keeps its own
    spin(lambda: not widget.runner.running)
    assert "Done" in widget.ui.statusLabel.text, widget.ui.statusLabel.text
    assert moving.GetTransformNodeID() == p.outputTransform.GetID() and other.GetTransformNodeID() is None
    assert widget.ui.movingVolumeSelector.enabled and widget.ui.transformComboBox.enabled


def test_segment_sections_run_side_by_side_and_stay_usable_after_a_failure(tmp_path, slicer_panel):
    widget = slicer_panel("GDSegment")
    fixed, _ = slices()
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"not a model")
    p = widget._parameterNode
    p.segmentVolume, p.segmentModel = fixed, bad
    p.detectVolume, p.detectModel = fixed, bad
    widget.ui.segmentButton.click()
    widget.ui.detectButton.click()
    assert widget.runners["segment"].running and widget.runners["detect"].running  # one job per section
    spin(lambda: not any(r.running for r in widget.runners.values()))
    assert widget.ui.segmentStatusLabel.text.startswith("Failed")
    assert widget.ui.segmentButton.enabled and widget.ui.detectButton.enabled  # ready again after the failure


def test_closing_the_scene_stops_a_prediction_and_asks_before_stopping_a_training(tmp_path, monkeypatch,
                                                                                  slicer_panel):
    widget = slicer_panel("GDSegment")
    fixed, _ = slices()
    p = widget._parameterNode
    reference = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLSegmentationNode", "reference")
    from GDImagingLib import results
    array = slicer.util.arrayFromVolume(fixed)[0]
    results.updateSegmentationFromLabels(reference, Volume.read(itk_example("BrainProtonDensitySliceBorder20.png"))
                                         .with_array((array > 100).astype(np.uint8)),
                                         [{"value": 1, "name": "bright", "color": [1, 0.5, 0]}], fixed)
    p.trainVolume, p.trainSegmentation, p.trainOutput = fixed, reference, tmp_path / "bright.pt"
    p.epochs, p.trainDevice = 2, "cpu"
    (tmp_path / "slow.pt").write_bytes(b"read only after the job's start-up, seconds from now")
    p.segmentVolume, p.segmentModel = fixed, tmp_path / "slow.pt"
    asked = []
    monkeypatch.setattr(slicer.util, "confirmYesNoDisplay", lambda text, *a, **k: asked.append(text) or False)
    widget.ui.trainButton.click()
    widget.ui.segmentButton.click()
    assert widget.runners["train"].running and widget.runners["segment"].running
    slicer.mrmlScene.Clear(0)
    assert len(asked) == 1 and "training is running" in asked[0]
    assert not widget.runners["segment"].running and widget.runners["train"].running  # the user said go on
    spin(lambda: not widget.runners["train"].running, 300)
    assert (tmp_path / "bright.pt").exists()
    assert widget._parameterNode.segmentModel == tmp_path / "bright.pt"  # in the new scene's panel


def test_import_checks_for_torch_before_loading_it():
    """Without torch, Import... asks for the PyTorch extension instead of failing with ModuleNotFoundError."""
    code = f"""
import sys
sys.path[:0] = [{str(ROOT / "Testing")!r}]
sys.modules.update(torch=None, torchvision=None, monai=None)
import slicer_double
GDSegment = slicer_double.load("GDSegment")
import qt, PyTorchUtils
asked = []
PyTorchUtils.PyTorchUtilsLogic.installTorch = lambda self, **kwargs: asked.append(kwargs)  # the user declines
qt.QFileDialog.getOpenFileName = staticmethod(lambda *args: {str(ROOT / "README.md")!r})
widget = slicer_double.moduleWidget("GDSegment")
before = widget._parameterNode.segmentModel   # the shipped model the section starts with
widget.onImportModel()
assert asked and asked[0]["askConfirmation"], asked
assert widget._parameterNode.segmentModel == before
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"})
    assert out.stdout.strip().endswith("ok"), out.stderr[-3000:]



def test_a_shown_panel_readies_a_spare_process_that_its_next_job_runs_in(slicer_panel, monkeypatch):
    """Outside testing mode (a user's Slicer), showing GD Register starts a job process that imports torch while
    the user chooses the volumes; Apply runs the job in it, the next spare is readied when the job ends, and the
    module going away ends it. The setting "GDImaging/spareProcess" = "false" turns spares off."""
    from GDImagingLib import jobs, settings
    monkeypatch.setattr(slicer.app, "testingEnabled", lambda: False)
    widget = slicer_panel("GDRegister")
    spare = jobs._spare
    assert spare is not None and spare.wait_ready(120)
    pid = spare.pid
    fixed, moving = slices()
    p = widget._parameterNode
    p.fixedVolume, p.movingVolume, p.transform, p.iterations, p.device = fixed, moving, "translation", 150, "cpu"
    widget.ui.applyButton.click()
    assert widget.runner.job.process.pid == pid
    spin(lambda: not widget.runner.running)
    assert "Done" in widget.ui.statusLabel.text, widget.ui.statusLabel.text
    assert moving.GetTransformNodeID() == p.outputTransform.GetID()
    following = jobs._spare
    assert following is not None and following.alive() and following.pid != pid
    process = following._process.popen
    widget.parent.exit()
    widget.cleanup()
    assert jobs._spare is None and process.poll() is not None
    settings.setValue(jobs.SPARE_SETTING, "false")
    try:
        widget.parent.enter()
        assert jobs._spare is None
    finally:
        settings.setValue(jobs.SPARE_SETTING, "true")
