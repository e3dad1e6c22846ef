"""Job specs are JSON checked before anything runs: kind, fields, option types, file paths, and outputs that
cannot be written (read-only folder, full disk) all give an InputError/ResourceError that names the problem."""
from __future__ import annotations

import json
import os
import shutil
from collections import namedtuple
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from gdbackend.errors import GDError, InputError, ResourceError
from gdbackend.job import Job, run_spec
from gdbackend.jobs import KINDS, JobKind, parse_spec


@pytest.fixture
def files(tmp_path) -> Path:
    for name in ("fixed.nii.gz", "moving.nii.gz", "image.nii.gz", "model.pt"):
        (tmp_path / name).write_bytes(b"0" * 100)
    return tmp_path


def spec(**change) -> dict:
    base = {"kind": "register", "inputs": {"fixed": "fixed.nii.gz", "moving": "moving.nii.gz"},
            "options": {"transform": "rigid", "levels": 2, "learning_rate": 0.5, "diffeomorphic": False},
            "outputs": {"transform": "t.tfm", "image": "moved.nii.gz"}}
    return base | change


def test_a_valid_spec_is_accepted_with_paths_taken_from_the_spec_folder(files):
    job = parse_spec(spec(), files)
    assert job.kind == "register" and job.inputs["fixed"] == files / "fixed.nii.gz"
    assert job.outputs == {"transform": files / "t.tfm", "image": files / "moved.nii.gz"}


@pytest.mark.parametrize("bad, message", [
    ([1, 2], "A job spec is a JSON object"),
    (spec(owner="me"), r"Unknown job spec field\(s\) \['owner'\]"),
    (spec(kind=None), "Unknown job kind None"),
    (spec(kind=["register"]), r"Unknown job kind \['register'\]"),
    (spec(kind="segment.fly"), "Unknown job kind 'segment.fly': this gdbackend runs classify.predict"),
    (spec(options=["rigid"]), "options must be a JSON object"),
    (spec(options={"levels": "three"}), "The register option 'levels' must be an integer, got 'three'"),
    (spec(options={"levels": 2.5}), "option 'levels' must be an integer"),
    (spec(options={"levels": True}), "option 'levels' must be an integer, got True"),
    (spec(options={"diffeomorphic": 1}), "option 'diffeomorphic' must be true or false, got 1"),
    (spec(options={"learning_rate": "fast"}), "'learning_rate' must be a number or null"),
    (spec(options={"transform": {"rigid": 1}}), "'transform' must be a string or a list"),
    (spec(options={"metric": "mi", "sped": 3}), r"Unknown register option\(s\) \['sped'\]"),
    (spec(inputs="fixed.nii.gz"), "inputs must be a JSON object"),
    (spec(inputs={"fixed": "fixed.nii.gz"}), r"missing \['moving'\]"),
    (spec(inputs={"fixed": "fixed.nii.gz", "moving": "moving.nii.gz", "atlas": "a.nii"}), r"unknown \['atlas'\]"),
    (spec(inputs={"fixed": "fixed.nii.gz", "moving": 7}), "'moving' must be a file path"),
    (spec(inputs={"fixed": "fixed.nii.gz", "moving": "nowhere.nii.gz"}), "Input 'moving' not found"),
    (spec(outputs={}), r"missing \['transform'\]"),
    (spec(outputs={"transform": "no/such/folder/t.tfm"}), "does not exist: create the folder first"),
    (spec(outputs={"transform": "moving.nii.gz"}), r"Job output\(s\) \['transform'\] would overwrite an input"),
    (spec(outputs={"transform": "x.nii.gz", "image": "./x.nii.gz"}), "Two job outputs go to the same file"),
    ({"kind": "detect.predict", "inputs": {"image": "image.nii.gz", "model": "model.pt"},
      "options": {"threshold": "0.5"}, "outputs": {"boxes": "b.csv"}}, "'threshold' must be a number, got '0.5'"),
    ({"kind": "segment.predict", "inputs": {"image": "image.nii.gz", "model": "model.pt"},
      "options": {"flips": "yes"}, "outputs": {"labels": "l.nii.gz"}}, "'flips' must be true or false"),
])
def test_a_bad_spec_is_refused_before_anything_runs(files, monkeypatch, bad, message):
    ran = []
    monkeypatch.setattr(JobKind, "function", lambda self: lambda *a: ran.append(a))
    with pytest.raises(InputError, match=message):
        run_spec(bad, base=files)
    assert not ran
    assert sorted(p.name for p in files.iterdir()) == ["fixed.nii.gz", "image.nii.gz", "model.pt", "moving.nii.gz"]


def test_an_unwritable_output_folder_is_refused_before_the_process_starts(files, read_only, monkeypatch):
    started = []
    monkeypatch.setattr("subprocess.Popen", lambda *a, **k: started.append(a))
    path = files / "spec.json"
    path.write_text(json.dumps(spec(outputs={"transform": str(read_only / "t.tfm")})))
    with pytest.raises(ResourceError, match=r"The 'transform' output folder .*read-only is not writable"):
        Job(path)
    assert not started


def test_a_full_disk_is_refused_with_the_space_needed_and_free(files, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 150, 150))
    with pytest.raises(ResourceError, match="Not enough disk space in .*: the job's outputs needs about 400 bytes, "
                                            "150 bytes are free"):
        parse_spec(spec(), files)
    model_job = {"kind": "segment.train", "inputs": {}, "options": {"data": "cases"}, "outputs": {"model": "m.pt"}}
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 10**6, 10**6))
    with pytest.raises(ResourceError, match="needs about 67.1 MB, 1.0 MB are free"):
        parse_spec(model_job, files)


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                    max_leaves=8)
PATHISH = st.text(alphabet=st.sampled_from(list("ab./\\~ \0\n")), max_size=10)  # odd file names


@settings(max_examples=int(os.environ.get("GD_FUZZ_EXAMPLES", 300)), deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(["kind", "inputs", "options", "outputs", "option", "input", "output", "whole"]),
       value=JSON | PATHISH, key=st.sampled_from(["fixed", "moving", "transform", "image", "levels", "metric", "x"]))
def test_any_json_gets_a_checked_spec_or_the_projects_error(files, field, value, key):
    """Whatever JSON a spec holds, parse_spec answers with a JobSpec or a GDError, never a raw TypeError."""
    bad = spec()
    if field == "whole":
        bad = value
    elif field in ("option", "input", "output"):
        bad[field + "s"] = {**bad[field + "s"], key: value}
    else:
        bad[field] = value
    try:
        job = parse_spec(bad, files)
    except GDError as e:
        event(f"refused: {str(e)[:30]}")
    else:
        event("accepted")
        assert job.kind in KINDS and all(isinstance(p, Path) for p in [*job.inputs.values(), *job.outputs.values()])
