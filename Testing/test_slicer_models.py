"""Import of a local model file from the GD Segment panel (Logic and the widget's handler on the Slicer
double): a good file is checked and copied into the model cache and becomes the Segment model; a file that
is not data, not a model or a model of another task is refused with a clear message and nothing is cached."""
from __future__ import annotations

import pytest
from test_models_safety import malicious_files

from gdbackend.errors import GDError, ModelError
from gdbackend.segment import build_network, network_arguments
from gdbackend.train import load_model_file, save_checkpoint
from slicer_double import load

GDSegment = load("GDSegment")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GDIMAGING_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "models"


def segment_model(path, task: str = "segment"):
    args = network_arguments("unet", 2, 1, 2, {"channels": [4, 8], "strides": [2], "num_res_units": 0})
    card = {"task": task, "network": "unet", "arguments": args, "labels": [{"value": 1, "name": "brain"}]}
    return save_checkpoint(path, build_network("unet", args).state_dict(), card)


def test_the_logic_imports_a_checked_model_into_the_cache(tmp_path, cache):
    load("GDSegment")
    cached = GDSegment.GDSegmentLogic().importModel(segment_model(tmp_path / "brain.pt"))
    assert cached == cache / "brain.pt"
    assert load_model_file(cached, task="segment")["card"]["labels"][0]["name"] == "brain"


@pytest.mark.parametrize("make, message", [
    (lambda d: (d / "notes.pt").write_text("not a model") and d / "notes.pt", "is not a GDImaging model file"),
    (lambda d: segment_model(d / "resnet.pt", task="classify"), "is a 'classify' model, not a 'segment' model"),
    (lambda d: malicious_files(d)[1][0], "evil.pt is not a GDImaging model file"),
    (lambda d: d / "missing.pt", "Model file not found"),
])
def test_a_bad_file_is_refused_and_nothing_is_cached(tmp_path, cache, make, message):
    load("GDSegment")
    with pytest.raises(GDError, match=message):
        GDSegment.GDSegmentLogic().importModel(make(tmp_path))
    assert not cache.exists() or not list(cache.iterdir())
    assert not (tmp_path / "code-ran").exists()


def test_the_import_button_sets_the_segment_model(tmp_path, cache, monkeypatch, slicer_panel):
    panel = slicer_panel("GDSegment")
    import qt
    chosen = [str(segment_model(tmp_path / "head.pt"))]
    monkeypatch.setattr(qt.QFileDialog, "getOpenFileName", lambda *args: chosen[0])  # PythonQt returns the path
    parameters = panel._parameterNode
    panel.ui.importModelButton.click()
    assert parameters.segmentModel == cache / "head.pt" and "Imported head.pt" in panel.ui.segmentStatusLabel.text
    chosen[0] = str(segment_model(tmp_path / "other.pt", task="detect"))
    with pytest.raises(ModelError, match="is a 'detect' model"):  # testing mode: re-raised after the error box
        panel.onImportModel()
    assert parameters.segmentModel == cache / "head.pt"
    chosen[0] = ""  # the dialog was cancelled
    panel.onImportModel()
    assert parameters.segmentModel == cache / "head.pt"
