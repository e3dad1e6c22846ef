"""Outputs that cannot be written are refused before the work starts: an unwritable folder or a full disk
gives exit code 2 and a message naming the folder (and the space needed), before any model is loaded,
any data read for training, or any registration run."""
from __future__ import annotations

import shutil
from collections import namedtuple

import numpy as np
import pytest

from gdbackend.cli import main
from gdbackend.errors import ResourceError
from gdbackend.resources import check_memory, format_bytes, make_output_folder
from gdbackend.volume import Volume

Usage = namedtuple("Usage", "total used free")


def gd(capsys, *args) -> tuple[int, str]:
    code = main([str(a) for a in args])
    return code, capsys.readouterr().err


@pytest.fixture
def image(tmp_path):
    return Volume(np.arange(4000, dtype=np.float32).reshape(10, 20, 20), (1.0, 1.0, 2.0)).write(tmp_path / "im.nii.gz")


def test_training_into_a_read_only_folder_fails_before_reading_any_data(capsys, read_only, tmp_path):
    code, err = gd(capsys, "segment", "train", "--data", tmp_path / "no-such-data", "--labels", "1:brain",
                   "--out", read_only / "brain.pt")
    assert code == 2 and "model folder" in err and "is not writable" in err and "no-such-data" not in err


def test_prediction_checks_its_output_folder_before_loading_the_model(capsys, read_only, image, tmp_path):
    code, err = gd(capsys, "segment", "predict", image, "--model", tmp_path / "missing.pt", "--out", read_only)
    assert code == 2 and "label maps folder" in err and "is not writable" in err and "missing.pt" not in err


def test_prediction_on_a_full_disk_names_the_space_needed(capsys, monkeypatch, image, tmp_path):
    monkeypatch.setattr(shutil, "disk_usage", lambda path: Usage(10**9, 10**9 - 5000, 5000))
    code, err = gd(capsys, "segment", "predict", image, "--model", tmp_path / "missing.pt", "--out", tmp_path / "o")
    assert code == 2 and "Not enough disk space" in err and "the label maps needs about 8.0 KB, 5.0 KB are free" in err


def test_registration_refuses_an_unwritable_output_before_registering(capsys, read_only, image, monkeypatch):
    monkeypatch.setattr("gdbackend.register.engine.register", lambda *a, **k: pytest.fail("registration ran"))
    code, err = gd(capsys, "register", image, image, "--output-transform", read_only / "t.tfm")
    assert code == 2 and "transform folder" in err and "not writable" in err
    code, err = gd(capsys, "register", image, image, "--output-transform", read_only.parent / "t.tfm",
                   "--output-image", read_only / "moved.nii.gz")
    assert code == 2 and "image folder" in err and "not writable" in err


def test_output_folders_that_cannot_exist_are_resource_errors(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ResourceError, match="Cannot create the output folder .*file/sub"):
        make_output_folder(blocker / "sub")
    with pytest.raises(ResourceError, match="is a file, not a folder"):
        Volume(np.ones((2, 2), np.float32) * [[1, 2], [3, 4]]).write(blocker / "x.nii.gz")


def test_memory_beyond_the_machine_is_refused_with_the_amount(monkeypatch):
    monkeypatch.setattr("gdbackend.resources.physical_memory", lambda: 8 * 10**9)
    check_memory(7 * 10**9, "this")
    with pytest.raises(ResourceError, match="The model grid needs about 12.0 GB of memory, more than this "
                                            "machine's 8.0 GB"):
        check_memory(12 * 10**9, "the model grid")
    assert [format_bytes(n) for n in (999, 1500, 2.5e6, 3e12)] == ["999 bytes", "1.5 KB", "2.5 MB", "3000.0 GB"]
