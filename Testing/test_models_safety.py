"""Model files are data: a pickle that would run code when unpickled is refused, and the code never runs."""
from __future__ import annotations

import pathlib

import pytest
import torch

from gdbackend.classify.predict import load_classifier
from gdbackend.detect.training import load_matching
from gdbackend.errors import ModelError
from gdbackend.segment import load_model
from gdbackend.train import load_model_file


class Payload:
    """Unpickling this calls Path.touch(marker): the stand-in for arbitrary code."""

    def __init__(self, marker: pathlib.Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return pathlib.Path.touch, (self.marker,)


def malicious_files(folder: pathlib.Path) -> tuple[pathlib.Path, list[pathlib.Path]]:
    """(marker, [torch zip file, legacy torch pickle]) that both look like checkpoints with a card."""
    marker = folder / "code-ran"
    zipped = folder / "evil.pt"
    torch.save({"format": 1, "card": {"task": "segment"}, "model": {}, "x": Payload(marker)}, zipped)
    legacy = folder / "evil-legacy.pt"
    torch.save({"card": {"task": "segment"}, "model": Payload(marker)}, legacy, _use_new_zipfile_serialization=False)
    return marker, [zipped, legacy]


def test_the_files_would_run_code_if_unpickled(tmp_path):
    """Control: the payload works, so the refusal below is not an accident of a broken file."""
    marker, files = malicious_files(tmp_path)
    for path in files:
        marker.unlink(missing_ok=True)
        torch.load(path, weights_only=False)
        assert marker.exists()


@pytest.mark.parametrize("loader", [
    lambda p: load_model_file(p),
    lambda p: load_model(p),
    lambda p: load_classifier(p),
    lambda p: load_matching(torch.nn.Linear(1, 1), p),
], ids=["checkpoint", "segment", "classify", "detect-weights"])
def test_malicious_pickle_is_refused_and_runs_nothing(tmp_path, loader):
    marker, files = malicious_files(tmp_path)
    for path in files:
        with pytest.raises(ModelError, match=str(path.name)):
            loader(path)
        assert not marker.exists(), f"unpickling {path.name} ran code"
