"""MONAI Model Zoo bundles in the panels (on real Slicer Core): the model lists offer the shipped registry's zoo
bundles with their details (task, MONAI bundle, size unknown, licence, modality, channels, spacing), a fetched
bundle folder as cached, a model shipped inside the extension as shipped (checked, never downloaded), and the
panel's download job (GD Segment's Logic, a real job process) fetches and unpacks a bundle with progress and
cancel from a slow server on loopback."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
import torch
from test_models_zoo import NAME, registry, zip_bundle
from test_models_zoo import bundle as bundle  # noqa: F401 (the tiny bundle fixture)
from test_slicer_segment_ux import SlowModelServer

from gdbackend.job import Job
from gdbackend.models.registry import default_registry
from gdbackend.train import save_checkpoint
from slicer_double import load

GDSegment = load("GDSegment")
from GDImagingLib import modelchoice  # noqa: E402


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GDIMAGING_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "models"


def test_the_zoo_bundles_are_listed_with_their_details(tmp_path, cache):
    choices = {c.name: c for c in modelchoice.listModels("segment", default_registry(), cache)}
    assert "spleen_ct_segmentation" in choices and "brats_mri_segmentation" in choices
    spleen = choices["spleen_ct_segmentation"]
    assert spleen.needsDownload and spleen.text == "spleen_ct_segmentation (download)" and spleen.path is None
    text = modelchoice.describe(spleen)
    assert "task: segment, MONAI bundle, size: unknown, licence: Apache-2.0" in text
    assert "Expects modality CT; 1 channel(s): CT; spacing 1.5 x 1.5 x 2 mm." in text
    assert "4 channel(s): T1c, T1, T2, FLAIR" in modelchoice.describe(choices["brats_mri_segmentation"])
    assert "3 channel(s): arterial, venous, excretory" in modelchoice.describe(
        choices["renalStructures_CECT_segmentation"])
    [lung] = modelchoice.listModels("detect", default_registry(), cache)  # the detect section's own
    assert lung.name == "lung_nodule_ct_detection"
    assert "spacing 0.703125 x 0.703125 x 1.25 mm" in modelchoice.describe(lung)
    (cache / "spleen_ct_segmentation" / "configs").mkdir(parents=True)  # fetched: offered from the cache
    cached = next(c for c in modelchoice.listModels("segment", default_registry(), cache)
                  if c.name == "spleen_ct_segmentation")
    assert cached.source == "cache" and cached.path == cache / "spleen_ct_segmentation"
    assert "licence: Apache-2.0" in modelchoice.describe(cached) and not cached.needsDownload


def test_the_listing_loads_no_torch():
    code = ("import sys; sys.path.insert(0, 'GDSegment'); from GDImagingLib import modelchoice; "
            "modelchoice.listModels('segment'); print('torch' in sys.modules)")
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_shipped_model_is_listed_as_shipped_and_a_damaged_one_is_not(tmp_path, monkeypatch):
    (tmp_path / "Models").mkdir()
    model = save_checkpoint(tmp_path / "Models" / "brain-extraction-t1.pt", {"w": torch.zeros(3)},
                            {"task": "segment"})
    entry = {"name": "brain-extraction-t1", "task": "segment", "description": "T1 MRI brain extraction",
             "modality": "MRI", "channels": ["T1"], "spacing": [2, 2, 2], "labels": ["brain"], "licence": "CC0-1.0",
             "size": model.stat().st_size, "file": "Models/brain-extraction-t1.pt",
             "sha256": hashlib.sha256(model.read_bytes()).hexdigest()}
    (tmp_path / "models.json").write_text(json.dumps({"format": 1, "models": [entry]}))
    monkeypatch.setenv("GDIMAGING_MODELS", str(tmp_path / "models.json"))
    [choice], problem = modelchoice.listModelsOrProblem("segment")
    assert (choice.source, choice.path, choice.needsDownload, problem) == ("shipped", model, False, "")
    assert "spacing 2 x 2 x 2 mm" in modelchoice.describe(choice) and "licence: CC0-1.0" in modelchoice.describe(choice)
    model.write_bytes(model.read_bytes() + b"changed")
    listed, problem = modelchoice.listModelsOrProblem("segment")
    assert listed == [] and "does not match its sha256: it is damaged; reinstall" in problem
    model.unlink()
    assert "brain-extraction-t1 (Models/brain-extraction-t1.pt) is missing" in modelchoice.listModelsOrProblem(
        "segment")[1]


@pytest.fixture
def slow_server(tmp_path, bundle):  # noqa: F811
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), SlowModelServer)
    httpd.body, httpd.pause = zip_bundle(bundle, tmp_path / "served.zip").read_bytes(), 0.0
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}/{NAME}.zip"
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def run(job: Job, until, seconds: float = 120) -> list[dict]:
    events, deadline = [], time.monotonic() + seconds
    while job.running and not until(job) and time.monotonic() < deadline:
        events += job.poll()
        time.sleep(0.02)
    return events


def test_the_download_job_fetches_and_unpacks_a_bundle_with_progress_and_cancel(tmp_path, cache, slow_server):
    reg = registry(tmp_path, slow_server)
    logic = GDSegment.GDSegmentLogic()
    slow_server.pause = 0.3
    job = Job(logic.prepareDownload(NAME, reg))
    run(job, lambda j: j.last_progress is not None)
    assert job.last_progress is not None and "MB" in job.last_progress["message"], job.error
    job.cancel()
    assert job.state == "cancelled"
    assert [p.name for p in cache.iterdir()] == [f".{NAME}.zip.part"], "no bundle, only the hidden bytes"
    slow_server.pause = 0.0
    job = Job(logic.prepareDownload(NAME, reg))
    events = run(job, lambda j: False)
    assert job.state == "done", job.error
    assert job.result["summary"] == {"model": str(cache / NAME), "name": NAME, "task": "segment", "kind": "bundle"}
    assert (cache / NAME / "models" / "model.pt").is_file() and [p.name for p in cache.iterdir()] == [NAME]
    messages = [e.get("message") for e in events if e["event"] == "progress"]
    assert any("MB" in m for m in messages) and job.last_progress["fraction"] == 1.0
    [choice] = [c for c in modelchoice.listModels("segment", reg, cache)]
    assert (choice.source, choice.path) == ("cache", cache / NAME)
