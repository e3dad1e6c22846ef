"""The GD Segment panel as a new user meets it (issue 17), on real Slicer Core: model selectors listing shipped,
cached and downloadable models (downloads as background jobs with progress and cancel), results shown in the
slice views and in 3D, a click on a detection centring the views on its lesion, the top class in the status
line, choices kept across sessions in QSettings, the reason beside a disabled button, a log of the jobs, and a
section applied to every volume of the scene with (i/N) progress, results named per volume and Cancel stopping
the rest."""
from __future__ import annotations

import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import torch

from gdbackend.sample_data import itk_example
from gdbackend.segment import network_arguments
from gdbackend.train import save_checkpoint
from gdbackend.volume import Volume
from slicer_double import load

load("GDSegment")
import qt  # noqa: E402
import slicer  # noqa: E402
from test_slicer_panels import spin  # noqa: E402

from GDImagingLib import modelchoice, nodes, views  # noqa: E402

CLOSED_SURFACE = "Closed surface"


@pytest.fixture
def slice_views():
    """The three slice views' logics, as Slicer's layout manager makes them for the scene's slice nodes: each has
    its slice composite node (background, foreground, label layers)."""
    scene, logics = slicer.mrmlScene, []
    for i in range(scene.GetNumberOfNodesByClass("vtkMRMLSliceNode")):
        logic = slicer.vtkMRMLSliceLogic()
        logic.SetMRMLApplicationLogic(slicer.app.applicationLogic())
        logic.SetMRMLScene(scene)
        logic.SetSliceNode(scene.GetNthNodeByClass(i, "vtkMRMLSliceNode"))
        logics.append(logic)
    yield logics
    for logic in logics:
        logic.SetMRMLScene(None)


@pytest.fixture(autouse=True)
def fresh_settings(tmp_path, monkeypatch):
    """Each test starts with no saved GDImaging settings, an empty model cache and no registry."""
    monkeypatch.setenv("GDIMAGING_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("GDIMAGING_MODELS", str(tmp_path / "no-registry.json"))
    qt.QSettings().remove("GDImaging")
    yield
    qt.QSettings().remove("GDImaging")


def slice_volume(name: str, file: str = "BrainProtonDensitySlice.png"):
    return nodes.addVolumeNode(Volume.read(itk_example(file)), name)


def segment_model(path: Path) -> Path:
    """An (untrained) 2D U-Net checkpoint with a full model card: predicts in a second on a slice."""
    args = network_arguments("unet", 2, 1, 2, {"channels": [4, 8], "strides": [2], "num_res_units": 0})
    card = {"task": "segment", "network": "unet", "arguments": args, "spatial_dims": 2, "in_channels": 1,
            "channels": ["image"], "spacing": [2.0, 2.0], "normalisation": "percentile", "patch": [32, 32],
            "labels": [{"value": 1, "name": "bright", "color": [1.0, 0.5, 0.0]}]}
    from gdbackend.segment import build_network
    return save_checkpoint(path, build_network("unet", args).state_dict(), card)


def registry(path: Path, *entries: dict) -> Path:
    base = {"description": "", "url": "https://example.org/m.pt", "sha256": "0" * 64, "size": 12_300_000,
            "labels": ["brain"], "licence": "CC-BY-4.0"}
    path.write_text(json.dumps({"format": 1, "models": [{**base, **e} for e in entries]}))
    return path


# ---------------------------------------------------------------- model listing (plain values)
def test_models_are_listed_from_the_extension_the_cache_and_the_registry(tmp_path, monkeypatch):
    shipped, cache = tmp_path / "Models", tmp_path / "cache" / "models"
    shipped.mkdir()
    (shipped / "demo.pt").write_bytes(b"")
    (shipped / "unlisted.pt").write_bytes(b"")   # in the folder, but no registry entry vouches for it
    cache.mkdir(parents=True)
    for name in ("mine.pt", "brain-t1.pt", ".lesions.pt.part", "notes.txt"):
        (cache / name).write_bytes(b"")
    reg = registry(tmp_path / "models.json",
                   {"name": "brain-t1", "task": "segment", "modality": "MRI T1", "channels": ["T1"],
                    "spacing": [1, 1, 1], "description": "Brain mask"},
                   {"name": "prostate", "task": "segment", "modality": "MRI", "channels": ["T2", "ADC"]},
                   {"name": "lesions", "task": "detect"},
                   {"name": "demo", "task": "segment", "file": "Models/demo.pt", "url": None,
                    "sha256": hashlib.sha256(b"").hexdigest(), "size": 1})
    choices = modelchoice.listModels("segment", reg, cache)
    assert [(c.name, c.source) for c in choices] == [
        ("demo", "shipped"), ("brain-t1", "cache"), ("mine", "cache"), ("prostate", "download")]
    assert modelchoice.defaultChoice(choices) == choices[0]
    brain, prostate = choices[1], choices[3]
    assert brain.path == cache / "brain-t1.pt" and brain.task == "segment" and not brain.needsDownload
    assert prostate.path is None and prostate.needsDownload and prostate.text == "prostate (download, 12.3 MB)"
    text = modelchoice.describe(brain)
    assert "Brain mask" in text and "licence: CC-BY-4.0" in text and "size: 12.3 MB" in text
    assert "modality MRI T1; 1 channel(s): T1; spacing 1 x 1 x 1 mm" in text
    assert "2 channel(s): T2, ADC" in modelchoice.describe(prostate) and "Download" in modelchoice.describe(prostate)
    detect = modelchoice.listModels("detect", reg, cache)
    assert [(c.name, c.source) for c in detect] == [("mine", "cache"), ("lesions", "download")]
    assert modelchoice.defaultChoice(detect) is None
    assert modelchoice.choiceForKey(choices, brain.key) == brain
    own = modelchoice.fileChoice(shipped / "demo.pt")
    assert modelchoice.choiceForKey(choices, own.key) == own and own.source == "file"
    assert modelchoice.choiceForKey(choices, "file:/gone/model.pt") is None
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(ValueError, match="not valid JSON"):
        modelchoice.listModels("segment", tmp_path / "broken.json", cache)
    (cache / "brain-t1.pt").unlink()
    (tmp_path / "models.json").write_text('{"models": [{"task": "segment"}]}')  # an entry without a name
    with pytest.raises(ValueError, match="entries with a name"):
        modelchoice.listModels("segment", tmp_path / "models.json")
    monkeypatch.setenv("GDIMAGING_MODELS", str(tmp_path / "models.json"))  # the panel's: files and the problem
    listed, problem = modelchoice.listModelsOrProblem("segment")
    assert [c.name for c in listed] == ["mine"] and "entries with a name" in problem
    assert modelchoice.listModels("segment", tmp_path / "absent.json", tmp_path / "none") == []


def test_the_listing_uses_the_backends_registry_and_cache(tmp_path, monkeypatch):
    from gdbackend.models import cache_dir
    from gdbackend.models.registry import default_registry
    assert modelchoice.registryPath() == default_registry() and modelchoice.cacheFolder() == cache_dir()
    monkeypatch.delenv("GDIMAGING_MODELS")
    assert modelchoice.registryPath() == default_registry() and modelchoice.registryPath().is_file()


# ---------------------------------------------------------------- results in the views
def labels_result(volume, folder: Path) -> dict:
    image = Volume.read(itk_example("BrainProtonDensitySlice.png"))
    labels = image.with_array((image.array > 100).astype(np.uint8)).write(folder / "labels.nii")
    return {"outputs": {"labels": str(labels)},
            "summary": {"labels": [{"value": 1, "name": "bright", "color": [1.0, 0.5, 0.0]}]}}


def test_a_segmentation_is_shown_over_its_volume_and_in_3d(tmp_path, slice_views, slicer_panel):
    widget = slicer_panel("GDSegment")
    volume = slice_volume("PD")
    p = widget._parameterNode
    p.segmentVolume, p.segmentModel = volume, tmp_path / "any.pt"
    spec, apply, _ = widget._segmentJob(p, volume, False)
    result = labels_result(volume, tmp_path)
    result["summary"]["metrics"] = {"dice_bright": 0.9, "iou_bright": 0.8, "hd95_bright": 2.5,
                                    "dice": 0.9, "iou": 0.8, "hd95": 2.5}  # with a reference segmentation
    assert not widget.ui.segmentTableView.isVisibleTo(widget.parent)
    apply(result)
    segmentation = p.segmentOutput
    assert segmentation.GetName() == "PD segmentation" and p.segmentTable.GetName() == "PD metrics"
    view = widget.ui.segmentTableView  # the metrics, shown once filled
    assert view.isVisibleTo(widget.parent) and view.mrmlTableNode() is p.segmentTable
    assert view.model().rowCount() == 2 and view.model().item(0, 1).text() == "0.9"
    composites = [slicer.mrmlScene.GetNthNodeByClass(i, "vtkMRMLSliceCompositeNode") for i in range(3)]
    assert [c.GetBackgroundVolumeID() for c in composites] == [volume.GetID()] * 3
    display = segmentation.GetDisplayNode()
    assert display.GetVisibility() and display.GetVisibility2D() and display.GetVisibility3D()
    assert segmentation.GetSegmentation().ContainsRepresentation(CLOSED_SURFACE)
    button = widget.ui.segmentShow3DButton
    assert button.segmentationNode() is segmentation and button.enabled and button.checked
    button.click()  # off: the surface goes, the label map stays
    assert not segmentation.GetSegmentation().ContainsRepresentation(CLOSED_SURFACE) and not button.checked
    button.click()
    assert segmentation.GetSegmentation().ContainsRepresentation(CLOSED_SURFACE)
    assert display.GetPreferredDisplayRepresentationName3D() == CLOSED_SURFACE


def test_a_click_on_a_detection_centres_the_slice_views_on_its_lesion(slice_views, slicer_panel):
    widget = slicer_panel("GDSegment")
    volume = slice_volume("PD")
    shift = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLLinearTransformNode")
    m = np.eye(4)
    m[:3, 3] = (5.0, -3.0, 2.0)
    shift.SetMatrixTransformToParent(slicer.util.vtkMatrixFromArray(m))
    volume.SetAndObserveTransformNodeID(shift.GetID())
    p = widget._parameterNode
    boxes = [{"min_lps": [-20.0, 5.0, 30.0], "max_lps": [10.0, 45.0, 52.5], "score": 0.9},
             {"min_lps": [40.0, -10.0, -4.0], "max_lps": [60.0, 10.0, 4.0], "score": 0.7}]
    spec, apply, _ = widget._detectJob(p, volume, False)
    assert apply({"summary": {"boxes": boxes}}) == "2 lesion(s): click a row of the table to see one."
    widget._updateButtons()
    rois = [views.rowNode(p.detectTable, row) for row in range(2)]
    assert [r.GetName() for r in rois] == ["PD lesion 1 (0.90)", "PD lesion 2 (0.70)"]
    assert all(r.GetDisplayNode() is not None and r.GetDisplayNode().GetVisibility() for r in rois)
    view = widget.ui.detectTableView
    assert view.mrmlTableNode() is p.detectTable and view.isVisibleTo(widget.parent)
    assert view.model().rowCount() == 2 and view.model().horizontalHeaderItem(1).text() == "score"
    view.clicked.emit(view.model().index(1, 0))  # the user clicks the second row
    expected = np.array([-50.0, 0.0, 0.0]) + m[:3, 3]  # the lesion's centre in RAS, through the transform
    for i in range(3):
        slice_to_ras = slicer.util.arrayFromVTKMatrix(
            slicer.mrmlScene.GetNthNodeByClass(i, "vtkMRMLSliceNode").GetSliceToRAS())
        assert np.allclose(slice_to_ras[:3, 3], expected)


class FinishedJob:
    """A job that has already ended with `result` (what gdbackend.job.Job reports once its process is done)."""

    def __init__(self, spec: Path, result: dict) -> None:
        self.spec_path, self.result, self.state = Path(spec), {"seconds": 1.0, **result}, "running"
        self.kind = json.loads(self.spec_path.read_text())["kind"]
        self.last_progress, self.messages, self.error, self.log = None, [], None, "a library warning"

    @property
    def running(self) -> bool:
        return self.state == "running"

    def poll(self) -> list:
        self.state = "done"
        return [{"event": "done"}]


def test_the_classes_are_shown_with_the_top_one_in_the_status_line(tmp_path, slicer_panel):
    widget = slicer_panel("GDSegment")
    volume = slice_volume("PD")
    p = widget._parameterNode
    p.classifyVolume, p.classifyModel = volume, tmp_path / "any.pt"
    (tmp_path / "p.csv").write_text("class,probability\ntumour,0.25\nhealthy,0.75\n")
    spec, apply, keep = widget._classifyJob(p, volume, False)
    runner = widget.runners["classify"]
    runner.start(FinishedJob(spec, {"outputs": {"probabilities": str(tmp_path / "p.csv")}}), apply, keep=keep)
    runner.poll()
    assert widget.ui.classifyStatusLabel.text == "Done in 1 s. Top class: healthy (0.75)."
    assert p.classifyTable.GetName() == "PD classes"
    view = widget.ui.classifyTableView
    assert view.mrmlTableNode() is p.classifyTable and view.model().rowCount() == 2
    assert view.isVisibleTo(widget.parent)
    log = widget.ui.logTextEdit.toPlainText()
    assert "[Classify] Classify: done" in log and "a library warning" in log and "Top class: healthy" in log


# ---------------------------------------------------------------- settings, reasons
def test_segment_starts_with_the_shipped_brain_model_until_the_user_picks_another(monkeypatch, slicer_panel):
    """The extension's own registry: its shipped model is ready at once in Segment; Classify and Detect, which
    ship none, ask for a model."""
    shipped = Path(__file__).resolve().parents[1] / "Resources" / "Models" / "brain-extraction-t1.pt"
    monkeypatch.setenv("GDIMAGING_MODELS", str(shipped.parents[1] / "models.json"))
    widget = slicer_panel("GDSegment")
    assert widget.ui.segmentModelComboBox.currentText == "brain-extraction-t1 (shipped)"
    assert widget._parameterNode.segmentModel == shipped
    assert widget.ui.classifyModelComboBox.currentText == widget.ui.detectModelComboBox.currentText == \
        "Choose a model..."


def test_device_models_and_folders_are_kept_across_sessions(tmp_path, slicer_panel):
    cache = tmp_path / "cache" / "models"
    cache.mkdir(parents=True)
    segment_model(cache / "head.pt")
    widget = slicer_panel("GDSegment")
    p = widget._parameterNode
    p.segmentDevice, p.detectDevice, p.trainFolder = "cpu", "cuda", tmp_path
    combo = widget.ui.segmentModelComboBox
    assert [combo.itemText(i) for i in range(combo.count)] == ["Choose a model...", "head (cached)"]
    combo.setCurrentIndex(1)
    assert p.segmentModel == cache / "head.pt"
    saved = qt.QSettings()
    assert saved.value("GDImaging/segment/device") == "cpu" and saved.value("GDImaging/detect/device") == "cuda"
    assert saved.value("GDImaging/segment/model") == "cache:head"
    # the next session: the panel closed, a new scene (so a new parameter node), and the panel opened again
    widget.parent.exit()
    widget.cleanup()
    slicer.mrmlScene.RemoveNode(slicer.mrmlScene.GetSingletonNode("GDSegment", "vtkMRMLScriptedModuleNode"))
    again = slicer_panel("GDSegment")
    q = again._parameterNode
    assert q is not p and (q.segmentDevice, q.detectDevice, q.classifyDevice) == ("cpu", "cuda", "auto")
    assert q.segmentModel == cache / "head.pt" and again.ui.segmentModelComboBox.currentText == "head (cached)"
    assert q.trainFolder == tmp_path and again.ui.segmentDeviceComboBox.currentText == "cpu"
    # a scene's parameter node, once made, keeps its own choices when the module is entered again
    q.segmentDevice = "auto"
    qt.QSettings().setValue("GDImaging/segment/device", "cuda")  # e.g. chosen in another Slicer meanwhile
    again.parent.exit()
    again.parent.enter()
    assert q.segmentDevice == "auto"


def test_each_reason_names_what_is_missing():
    from types import SimpleNamespace

    from GDImagingLib.segmentpanel import reasons
    empty = dict.fromkeys(("segmentVolume", "classifyVolume", "detectVolume", "trainVolume", "trainSegmentation"))
    p = SimpleNamespace(**empty, segmentAllVolumes=False, classifyAllVolumes=True, detectAllVolumes=False,
                        segmentModel=Path("."), classifyModel=Path("."), detectModel=Path("."),
                        trainTask="classification", trainOutput=Path("c.pt"), trainFolder=Path("."))
    assert reasons(p, {"classify": "lesion-classes"}) == {
        "segment": "Select an input volume.", "classify": "Download lesion-classes first (Download button).",
        "detect": "Select an input volume.", "train": "Choose a folder with one sub-folder of images per class."}
    p.detectVolume, p.detectModel, p.trainTask, p.trainOutput = object(), Path("d.pt"), "segmentation", Path(".")
    out = reasons(p, {})
    assert out["detect"] == "" and out["classify"] == "Choose a model, import one or train one."
    assert out["train"] == "Choose where to save the model (Save model as)."
    p.trainOutput, p.trainVolume, p.trainSegmentation = Path("s.pt"), object(), object()
    assert reasons(p, {})["train"] == "" and set(reasons(None, {}).values()) == {"Open a scene."}


def test_a_disabled_button_says_why(tmp_path, monkeypatch, slicer_panel):
    monkeypatch.setenv("GDIMAGING_MODELS", str(registry(tmp_path / "models.json",
                                                        {"name": "brain-t1", "task": "segment"})))
    widget = slicer_panel("GDSegment")
    button, reason = widget.ui.segmentButton, widget.ui.segmentReasonLabel
    assert not button.enabled and reason.text == "Select an input volume." and button.toolTip == reason.text
    p = widget._parameterNode
    p.segmentVolume = slice_volume("PD")
    assert reason.text == "Choose a model, import one or train one." and reason.isVisibleTo(widget.parent)
    widget.ui.segmentModelComboBox.setCurrentIndex(1)  # brain-t1, not downloaded yet
    assert reason.text == "Download brain-t1 first (Download button)."
    assert widget.ui.segmentDownloadButton.isVisibleTo(widget.parent)
    assert "licence: CC-BY-4.0" in widget.ui.segmentModelInfoLabel.text
    p.segmentModel = segment_model(tmp_path / "mine.pt")
    assert button.enabled and reason.text == "" and not reason.isVisibleTo(widget.parent)
    assert widget.ui.segmentModelComboBox.currentText == "mine (your file)"
    assert widget.ui.trainReasonLabel.text == "Choose where to save the model (Save model as)."


# ---------------------------------------------------------------- downloads
class SlowModelServer(BaseHTTPRequestHandler):
    """Serves server.body at /model.pt in 64 kB chunks, server.pause seconds apart (a slow connection)."""

    def do_GET(self) -> None:
        body = self.server.body
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            for start in range(0, len(body), 1 << 16):
                self.wfile.write(body[start:start + (1 << 16)])
                self.wfile.flush()
                time.sleep(self.server.pause)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client cancelled

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def model_server(tmp_path):
    weights = {"w": torch.randn(600_000, generator=torch.Generator().manual_seed(0))}  # 2.4 MB: many chunks
    model = save_checkpoint(tmp_path / "served.pt", weights, {"task": "segment", "network": "unet"})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), SlowModelServer)
    httpd.body, httpd.pause = model.read_bytes(), 0.0
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}/model.pt"
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def test_a_registry_model_downloads_in_the_background_with_progress_and_cancel(tmp_path, monkeypatch, model_server,
                                                                               slicer_panel):
    body = model_server.body
    monkeypatch.setenv("GDIMAGING_MODELS", str(registry(
        tmp_path / "models.json", {"name": "brain-t1", "task": "segment", "url": model_server.url,
                                   "sha256": hashlib.sha256(body).hexdigest(), "size": len(body)})))
    widget = slicer_panel("GDSegment")
    widget.ui.segmentModelComboBox.setCurrentIndex(1)
    download, selector = widget.ui.segmentDownloadButton, widget.models["segment"]
    model_server.pause = 0.5  # a slow server: cancel it half-way
    download.click()
    assert selector.runner.running and download.text == "Cancel"
    assert not widget.ui.segmentModelComboBox.enabled  # the choice is fixed while it downloads
    spin(lambda: widget.ui.segmentProgressBar.value > 0)  # progress arrives while the event loop runs
    assert " %" in widget.ui.segmentStatusLabel.text and "MB" in widget.ui.logTextEdit.toPlainText()
    download.click()
    assert not selector.runner.running and "Cancelled" in widget.ui.segmentStatusLabel.text
    assert not (tmp_path / "cache" / "models" / "brain-t1.pt").exists()
    assert (tmp_path / "cache" / "models" / ".brain-t1.pt.part").exists()  # kept: the next try resumes
    model_server.pause = 0.0
    download.click()
    spin(lambda: not selector.runner.running)
    cached = tmp_path / "cache" / "models" / "brain-t1.pt"
    assert cached.read_bytes() == body, widget.ui.segmentStatusLabel.text
    assert widget._parameterNode.segmentModel == cached and "brain-t1 is in the model cache" in \
        widget.ui.segmentStatusLabel.text
    assert widget.ui.segmentModelComboBox.currentText == "brain-t1 (cached)"
    assert not download.isVisibleTo(widget.parent) and widget.ui.segmentModelComboBox.enabled


# ---------------------------------------------------------------- batch
def test_segment_every_volume_with_results_named_per_volume_and_cancel_stopping_the_rest(tmp_path, slicer_panel):
    widget = slicer_panel("GDSegment")
    volumes = [slice_volume("PD")]
    slicer.mrmlScene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "empty")  # no voxels: fails, the rest go on
    volumes += [slice_volume(n, f) for n, f in (("moved", "BrainProtonDensitySliceBSplined10.png"),
                                                ("shifted", "BrainProtonDensitySliceShifted13x17y.png"))]
    slicer.mrmlScene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode", "a label map, not an input")
    p = widget._parameterNode
    p.segmentModel, p.segmentDevice, p.segmentAllVolumes = segment_model(tmp_path / "m.pt"), "cpu", True
    statuses = []
    widget.ui.segmentButton.click()
    assert widget.ui.segmentStatusLabel.text.startswith("(1/4) PD:")
    spin(lambda: statuses.append(widget.ui.segmentStatusLabel.text) or "segment" not in widget.batches, 300)
    log = widget.ui.logTextEdit.toPlainText()
    assert widget.ui.segmentStatusLabel.text == "Done: 3 of 4 volumes; failed: empty (see the log).", log
    assert any(s.startswith("(3/4) moved:") for s in statuses) and any(s.startswith("(4/4) shifted:") for s in statuses)
    assert "[Segment] (2/4) empty: Select a volume that has image data." in log
    for volume in volumes:
        segmentation = slicer.mrmlScene.GetFirstNodeByName(f"{volume.GetName()} segmentation")
        assert segmentation is not None and segmentation.GetSegmentation().GetNumberOfSegments() == 1
        ref = segmentation.GetNodeReferenceID(segmentation.GetReferenceImageGeometryReferenceRole())
        assert ref == volume.GetID()
    assert p.segmentOutput is None  # a batch leaves the single-volume output field alone
    assert "[Segment] (4/4) shifted: Segment: done" in log
    before = slicer.mrmlScene.GetNumberOfNodesByClass("vtkMRMLSegmentationNode")
    widget.ui.segmentButton.click()
    assert widget.runners["segment"].running and widget.ui.segmentButton.text == "Cancel"
    widget.ui.segmentButton.click()  # Cancel: the running job stops and no other starts
    assert "segment" not in widget.batches and not widget.runners["segment"].running
    assert widget.ui.segmentStatusLabel.text == "Cancelled after 0 of 4 volumes: the rest were not started."
    spin(lambda: True, 1)
    assert not widget.runners["segment"].running
    assert slicer.mrmlScene.GetNumberOfNodesByClass("vtkMRMLSegmentationNode") == before
    assert widget.ui.segmentButton.text == "Segment" and widget.ui.segmentButton.enabled


def test_a_bundle_folder_is_used_where_it_is(tmp_path, monkeypatch, slicer_panel):
    widget = slicer_panel("GDSegment")
    bundle = tmp_path / "spleen_ct_segmentation"
    (bundle / "configs").mkdir(parents=True)
    chosen = [str(bundle)]
    monkeypatch.setattr(qt.QFileDialog, "getExistingDirectory", lambda *args: chosen[0])
    menu = widget.ui.importModelButton.menu()
    [action] = menu.actions()
    action.trigger()  # Import... > A MONAI bundle folder...
    assert widget._parameterNode.segmentModel == bundle
    assert widget.ui.segmentModelComboBox.currentText == "spleen_ct_segmentation (your file)"
    assert qt.QSettings().value("GDImaging/folders/models") == str(tmp_path)
    chosen[0] = str(tmp_path)  # not a bundle: refused with the reason, the model stays
    action.trigger()
    assert widget._parameterNode.segmentModel == bundle
