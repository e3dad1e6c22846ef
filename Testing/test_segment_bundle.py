"""MONAI Model Zoo bundles as segmentation models, on a tiny bundle built here (configs/inference.json,
configs/metadata.json, models/model.pt of a small MONAI UNet): the card is read from the bundle, the
outputs equal running the network directly on the bundle's own array layout, `gd segment predict --model
BUNDLE` works, and a bundle whose network definition would run code is refused without running it."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from monai.networks.nets import UNet
from test_models_safety import malicious_files

from gdbackend.cli import main
from gdbackend.errors import ModelError
from gdbackend.segment import load_model, predict
from gdbackend.volume import Volume

ROI = [16, 24, 32]  # x, y, z: unequal, so a mixed-up axis order shows
NETWORK = {"_target_": "UNet", "spatial_dims": 3, "in_channels": 1, "out_channels": 3, "channels": [4, 8],
           "strides": [2], "num_res_units": 0}


def make_bundle(root: Path, network_def: dict | None = None, **config) -> tuple[Path, torch.nn.Module]:
    """A bundle folder as the MONAI Model Zoo lays it out, with a randomly initialised UNet."""
    torch.manual_seed(0)
    net = UNet(**{k: v for k, v in NETWORK.items() if k != "_target_"})
    folder = root / "tiny_bundle"
    (folder / "configs").mkdir(parents=True)
    (folder / "models").mkdir()
    inference = {
        "imports": ["$import torch"],  # expressions elsewhere in a bundle are never evaluated
        "device": "$torch.device('cuda:0' if torch.cuda.is_available() else 'cpu')",
        "network_def": network_def or NETWORK,
        "network": "$@network_def.to(@device)",
        "roi": ROI,
        "preprocessing": {"_target_": "Compose", "transforms": [
            {"_target_": "LoadImaged", "keys": "image"},
            {"_target_": "EnsureChannelFirstd", "keys": "image"},
            {"_target_": "Orientationd", "keys": "image", "axcodes": "RAS"},
            {"_target_": "Spacingd", "keys": "image", "pixdim": [1.5, 2.0, 2.5], "mode": "bilinear"},
            {"_target_": "ScaleIntensityRanged", "keys": "image", "a_min": 0, "a_max": 200, "b_min": 0.0,
             "b_max": 1.0, "clip": True}]},
        "inferer": {"_target_": "SlidingWindowInferer", "roi_size": "@roi", "sw_batch_size": 4, "overlap": 0.5},
        **config}
    (folder / "configs" / "inference.json").write_text(json.dumps(inference))
    (folder / "configs" / "metadata.json").write_text(json.dumps({
        "version": "0.1.0", "network_data_format": {
            "inputs": {"image": {"type": "image", "num_channels": 1, "spatial_shape": ROI}},
            "outputs": {"pred": {"type": "image", "num_channels": 3,
                                 "channel_def": {"0": "background", "1": "liver", "2": "spleen"}}}}}))
    torch.save(net.state_dict(), folder / "models" / "model.pt")
    return folder, net.eval()


def image() -> Volume:
    """A volume on exactly the bundle's grid and window: (z, y, x) = ROI reversed, spacing as Spacingd."""
    rng = np.random.default_rng(0)
    a = rng.uniform(0, 250, size=ROI[::-1]).astype(np.float32)
    a[8:20, 5:15, 3:12] += 100
    return Volume(a, (1.5, 2.0, 2.5), (10.0, -20.0, 5.0))


def test_the_card_comes_from_the_bundle(tmp_path):
    folder, _ = make_bundle(tmp_path)
    model, card = load_model(folder)
    assert card["spacing"] == [1.5, 2.0, 2.5] and card["patch"] == ROI[::-1] and card["source"] == "monai-bundle"
    assert card["in_channels"] == 1 and card["spatial_dims"] == 3 and not card["multi_label"]
    assert [(lb["value"], lb["name"]) for lb in card["labels"]] == [(1, "liver"), (2, "spleen")]
    assert not model.training


def test_outputs_equal_the_network_run_directly_in_the_bundles_layout(tmp_path):
    folder, net = make_bundle(tmp_path)
    model, card = load_model(folder)
    volume = image()  # on the bundle's grid and one window: Spacingd and window blending change nothing
    # what MONAI gives after LoadImaged + Orientationd(RAS) + scaling: (C, x, y, z), x towards R, y towards A
    scaled = np.clip(volume.array / 200, 0, 1).astype(np.float32)
    bundle_array = torch.from_numpy(scaled.T[::-1, ::-1].copy())[None, None]
    with torch.no_grad():
        direct = net(bundle_array).argmax(1)[0].numpy()[::-1, ::-1].T
    labels = predict(model, card, volume)
    assert labels.same_grid(volume)
    np.testing.assert_array_equal(labels.array, direct)


def test_gd_segment_predict_takes_a_bundle_folder(tmp_path, capsys):
    folder, _ = make_bundle(tmp_path)
    volume = image()
    volume.write(tmp_path / "case.nii.gz")
    assert main(["segment", "predict", str(tmp_path / "case.nii.gz"), "--model", str(folder), "--out",
                 str(tmp_path / "out"), "--device", "cpu"]) == 0
    model, card = load_model(folder)
    written = Volume.read(tmp_path / "out" / "case.nii.gz")
    np.testing.assert_array_equal(written.array, predict(model, card, volume).array)


@pytest.mark.parametrize("network_def, message", [
    ({**NETWORK, "channels": "$__import__('pathlib').Path('MARKER').touch() or [4, 8]"}, "runs code"),
    ({"_target_": "pathlib.Path.touch", "self": "MARKER"}, "is not a MONAI transform, inferer or network"),
    ({"_target_": "monai.networks.utils.torch.save", "obj": 1, "f": "MARKER"}, "is not a MONAI transform"),
    ({**NETWORK, "_mode_": "callable"}, "uses _mode_, which runs code"),
    ({**NETWORK, "out_channels": "@n"}, "runs code"),
])
def test_a_network_definition_that_would_run_code_is_refused(tmp_path, monkeypatch, network_def, message):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GDIMAGING_CACHE", str(tmp_path / "cache"))
    folder, _ = make_bundle(tmp_path, network_def, n="$__import__('pathlib').Path('MARKER').touch() or 3")
    with pytest.raises(ModelError, match=message):
        load_model(folder)
    assert not (tmp_path / "MARKER").exists()


def test_a_component_built_with_pretrained_weights_is_refused_before_any_download(tmp_path, monkeypatch):
    """DenseNet121(pretrained=True) would fetch ImageNet weights while the bundle loads: no network is used."""
    monkeypatch.setenv("GDIMAGING_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr("urllib.request.urlopen", lambda *a, **k: pytest.fail("a download was attempted"))
    net = {"_target_": "DenseNet121", "spatial_dims": 3, "in_channels": 1, "out_channels": 3, "pretrained": True}
    folder, _ = make_bundle(tmp_path, net)
    with pytest.raises(ModelError, match="pretrained=True, which would download weights"):
        load_model(folder)


def test_settings_computed_by_code_are_refused_not_evaluated(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GDIMAGING_CACHE", str(tmp_path / "cache"))
    folder, _ = make_bundle(tmp_path, roi="$__import__('pathlib').Path('MARKER').touch() or [16, 24, 32]")
    with pytest.raises(ModelError, match="runs code"):
        load_model(folder)
    assert not (tmp_path / "MARKER").exists()


def test_bundles_without_usable_weights_or_config_are_refused(tmp_path):
    folder, _ = make_bundle(tmp_path)
    marker, (evil, _) = malicious_files(tmp_path)
    evil.replace(folder / "models" / "model.pt")
    with pytest.raises(ModelError, match="is not a weights file that loads as data"):
        load_model(folder)
    assert not marker.exists()
    (folder / "models" / "model.pt").unlink()
    with pytest.raises(ModelError, match="has no weights file"):
        load_model(folder)
    torch.save({"weights": [1, 2]}, folder / "models" / "model.pt")
    with pytest.raises(ModelError, match="holds no network weights"):
        load_model(folder)
    (folder / "configs" / "inference.json").write_text("{broken")
    with pytest.raises(ModelError, match="Cannot read the bundle config"):
        load_model(folder)
