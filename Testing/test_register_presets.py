"""Registration presets: GDImaging's own (data in gdbackend/register/presets.json) each run on a real case, and
users' presets kept as JSON text, checked like any other registration options."""
from __future__ import annotations

import json

import numpy as np
import pytest

from gdbackend.errors import InputError
from gdbackend.register import register
from gdbackend.register import sample as cases
from gdbackend.register.options import DEFAULTS, RegistrationOptions
from gdbackend.register.presets import all_presets, parse_presets, shipped_presets, with_preset, without_preset


def test_shipped_presets_cover_the_common_cases_and_are_valid_options():
    presets = shipped_presets()
    assert {"rigid-same-modality", "mri-rigid-affine", "brain-mri-deformable", "ct-to-ct"} <= set(presets)
    for p in presets.values():
        assert p.shipped and p.title and p.description, p
        assert isinstance(p.registration_options(), RegistrationOptions)
    assert presets["brain-mri-deformable"].registration_options().stages == ("rigid", "affine", "bspline")
    # what a preset leaves out keeps its default; what a caller gives wins over the preset
    opts = presets["ct-to-ct"].registration_options(levels=2)
    assert opts.levels == 2 and opts.initialize == "moments" and opts.optimizer == DEFAULTS["optimizer"]


@pytest.fixture(scope="module")
def affine_2mm():
    return cases.affine_case("2mm")


@pytest.mark.parametrize("name", ["rigid-same-modality", "rigid-multimodal", "mri-rigid-affine", "ct-to-ct"])
def test_each_linear_preset_registers_a_real_brain(affine_2mm, name):
    """Case D (Colin27 at 2 mm under a known affine): rigid presets remove most of the error, affine ones all."""
    fixed, moving, truth = affine_2mm
    points = cases.brain_points_1mm()[::50]
    before = cases.tre(np.eye(4), truth, points).mean()
    preset = shipped_presets()[name]
    result = register(fixed, moving, options=preset.registration_options())
    error = cases.tre(result.matrix, truth, points).mean()
    limit = 0.5 if "affine" in preset.registration_options().stages else 0.35 * before
    assert error < limit, (name, before, error)


def test_user_presets_round_trip_as_json_text():
    text = with_preset("", "my-affine", {"transform": ["affine"], "metric": "mi", "levels": 2}, "My affine")
    assert json.loads(text)["format"] == 1
    presets = all_presets(text)
    assert list(presets)[-1] == "my-affine" and not presets["my-affine"].shipped
    assert presets["my-affine"].registration_options().metric == "mi"
    text = with_preset(text, "my-affine", {"transform": "rigid"})   # replaced, not added twice
    assert list(parse_presets(text)) == ["my-affine"] and parse_presets(text)["my-affine"].options == {
        "transform": "rigid"}
    assert parse_presets(without_preset(text, "my-affine")) == {}


@pytest.mark.parametrize("text, words", [
    ("{not json", "not valid JSON"),
    ('{"presets": {}}', "no list of presets"),
    ('{"presets": [{"title": "x"}]}', "has no name"),
    ('{"presets": [{"name": "a", "options": {"metric": "cosine"}}]}', "Unknown metric"),
    ('{"presets": [{"name": "a", "options": {"levles": 3}}]}', "Unknown registration option"),
    ('{"presets": [{"name": "a"}, {"name": "a"}]}', "twice"),
    ('{"presets": [{"name": "ct-to-ct"}]}', "reuse the names"),
])
def test_bad_presets_are_refused_with_the_reason(text, words):
    with pytest.raises(InputError, match=words):
        all_presets(text)


def test_a_shipped_preset_cannot_be_replaced_or_removed():
    with pytest.raises(InputError, match="one of GDImaging's presets"):
        with_preset("", "ct-to-ct", {"transform": "rigid"})
    with pytest.raises(InputError, match="no saved preset"):
        without_preset("", "ct-to-ct")
    with pytest.raises(InputError, match="cannot run"):
        with_preset("", "bad", {"transform": ["bspline", "affine"]})


def test_the_command_line_takes_a_preset_and_options_given_win(tmp_path, capsys):
    from gdbackend.cli import main
    from gdbackend.sample_data import itk_example
    fixed, moving = (str(itk_example(f"BrainProtonDensitySlice{s}.png")) for s in ("Border20", "Shifted13x17y"))
    out = tmp_path / "t.tfm"
    assert main(["register", fixed, moving, "--preset", "rigid-same-modality", "--levels", "2",
                 "--output-transform", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["transform"] == "rigid" and summary["metric"] == "ncc" and out.is_file()
    mine = tmp_path / "mine.json"
    mine.write_text(with_preset("", "shift", {"transform": "translation", "levels": 2}))
    assert main(["register", fixed, moving, "--preset", "shift", "--presets-file", str(mine),
                 "--output-transform", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["transform"] == "translation"
    assert main(["register", fixed, moving, "--preset", "nope", "--output-transform", str(out)]) == 2
    assert "Unknown preset 'nope': use one of rigid-same-modality" in capsys.readouterr().err
