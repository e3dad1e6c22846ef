"""MONAI bundles run by GDImaging exactly as MONAI runs them: bundles written here reproduce each feature of
the zoo's configs (Spacingd on a rotated grid with float32 spacings, inferer settings, intensity chains,
expressions, YAML, several input channels, sigmoid outputs and label merging, largest component, scripts/),
and each is run both by `gdbackend` and by MONAI's own pipeline on the same random weights and image: the
outputs are equal voxel for voxel. Bundles that need their own code are refused until trusted."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from bundle_fixtures import (
    TINY_UNET,
    kji,
    monai_run,
    oblique_ct,
    random_network,
    standard_config,
    transforms,
    write_bundle,
)

from gdbackend.cli import main
from gdbackend.errors import ModelError
from gdbackend.segment import load_model, predict
from gdbackend.segment.bundle_run import merged
from gdbackend.volume import Volume

CT_PREPROCESSING = transforms(
    ("LoadImaged", {"keys": "image"}), ("EnsureChannelFirstd", {"keys": "image"}),
    ("Orientationd", {"keys": "image", "axcodes": "RAS"}),
    ("Spacingd", {"keys": "image", "pixdim": [0.8, 1.3, 2.1], "mode": "bilinear"}),
    ("ScaleIntensityRanged", {"keys": "image", "a_min": -200, "a_max": 300, "b_min": 0.0, "b_max": 1.0,
                              "clip": True}),
    ("EnsureTyped", {"keys": "image"}))
SOFTMAX_POST = transforms(
    ("Activationsd", {"keys": "pred", "softmax": True}),
    ("Invertd", {"keys": "pred", "transform": "@preprocessing", "orig_keys": "image", "nearest_interp": False,
                 "to_tensor": True}),
    ("AsDiscreted", {"keys": "pred", "argmax": True}))


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GDIMAGING_CACHE", str(tmp_path / "cache"))  # trust records go here


def ours(folder, paths, trust=False, **options) -> tuple[np.ndarray, dict]:
    """GDImaging's bundle output (C, z, y, x) for one case of image files (as `gd segment predict` reads
    them), and the card."""
    model, card = load_model(folder, "cpu", trust)
    return model.segment([Volume.read(p) for p in paths], files=paths, **options), card


def theirs(folder, case: dict, tmp_path) -> np.ndarray:
    return kji(monai_run(folder, [case], tmp_path / "monai")[0]["pred"])


@pytest.mark.parametrize("inferer", [
    {"overlap": 0.25, "mode": "constant", "padding_mode": "replicate"},
    {"overlap": 0.6, "mode": "gaussian", "sigma_scale": 0.2}])
def test_spacingd_grid_inferer_and_largest_component_as_monai(tmp_path, inferer):
    image = oblique_ct(tmp_path / "ct.nii.gz")
    post = [*SOFTMAX_POST, {"_target_": "KeepLargestConnectedComponentd", "keys": "pred", "applied_labels": [1, 2]}]
    config = standard_config(CT_PREPROCESSING, post, inferer={"_target_": "SlidingWindowInferer",
                             "roi_size": [16, 16, 16], "sw_batch_size": 3, **inferer})
    folder = write_bundle(tmp_path, "ct_bundle", config, random_network(TINY_UNET),
                          {"num_channels": 3, "channel_def": {"0": "background", "1": "liver", "2": "cyst"}})
    out, card = ours(folder, [image])
    expected = theirs(folder, {"image": str(image)}, tmp_path)
    assert out.shape == expected.shape == (1, 21, 27, 30)
    assert len(np.unique(expected)) == 3  # every class present: the comparison is not between empty maps
    np.testing.assert_array_equal(out, expected)
    assert card["spacing"] == pytest.approx([0.8, 1.3, 2.1]) and card["patch"] == [16, 16, 16]
    assert [(lb["value"], lb["name"]) for lb in card["labels"]] == [(1, "liver"), (2, "cyst")]
    saved = Volume.read(tmp_path / "monai" / "ct_seg.nii.gz")  # MONAI's SaveImaged file: the same grid too
    labels = predict(*load_model(folder), Volume.read(image))  # in memory (from Slicer): no file to read
    assert labels.same_grid(saved, tol=1e-5)
    np.testing.assert_array_equal(labels.array, saved.array)


def test_yaml_expressions_and_an_intensity_chain_as_monai(tmp_path):
    """wholeBody CT's shape: conditional pixdim, settings through references, transforms concatenated by an
    expression, NormalizeIntensityd(nonzero) then ScaleIntensityd(-1, 1), argmax before a nearest Invertd."""
    image = oblique_ct(tmp_path / "ct.nii.gz", seed=1)
    base = transforms(("LoadImaged", {"keys": "@image_key"}), ("EnsureChannelFirstd", {"keys": "@image_key"}),
                      ("Orientationd", {"keys": "@image_key", "axcodes": "RAS"}),
                      ("Spacingd", {"keys": "@image_key", "pixdim": "@pixdim", "mode": "bilinear"}))
    intensity = transforms(("NormalizeIntensityd", {"keys": "@image_key", "nonzero": True}),
                           ("ScaleIntensityd", {"keys": "@image_key", "minv": -1.0, "maxv": 1.0}),
                           ("CastToTyped", {"keys": "@image_key", "dtype": "$torch.float32"}))
    post = transforms(("Activationsd", {"keys": "pred", "softmax": True}), ("AsDiscreted", {"keys": "pred",
                      "argmax": True}), ("Invertd", {"keys": "pred", "transform": "$@preprocessing", "orig_keys":
                      "@image_key", "nearest_interp": True, "to_tensor": True}))
    network = {**TINY_UNET, "spatial_dims": "$len(@roi)", "out_channels": "@n_classes"}
    config = standard_config(
        "$@base_transforms + @intensity_transforms", post, network, image_key="image", roi=[16, 12, 20],
        n_classes=3, options={"highres": False, "overlap": 0.4}, base_transforms=base,
        intensity_transforms=intensity, pixdim="$[0.7, 0.7, 0.7] if @options#highres else [1.6, 1.2, 2.0]",
        inferer={"_target_": "SlidingWindowInferer", "roi_size": "@roi", "sw_batch_size": 2,
                 "overlap": "@options#overlap", "mode": "gaussian", "padding_mode": "replicate",
                 "device": "$torch.device('cpu')"})
    folder = write_bundle(tmp_path, "yaml_bundle", config, random_network({**TINY_UNET, "out_channels": 3}),
                          yaml=True)
    out, card = ours(folder, [image])
    expected = theirs(folder, {"image": str(image)}, tmp_path)
    assert len(np.unique(expected)) == 3
    np.testing.assert_array_equal(out, expected)
    assert card["spacing"] == pytest.approx([1.6, 1.2, 2.0]) and card["patch"] == [20, 12, 16]


def brats_like(tmp_path, merge: bool) -> tuple:
    """Four MR channels of one case, no resampling, NormalizeIntensityd(nonzero, channel_wise), three sigmoid
    channels thresholded, optionally merged into 1/2/4 by the lambda BraTS' bundle uses."""
    rng = np.random.default_rng(2)
    paths = []
    for c in range(4):
        a = rng.normal(100 + 20 * c, 30, size=(18, 20, 22)).astype(np.float32)
        a[:3] = 0  # background that nonzero=True leaves out of the statistics
        paths.append(Volume(a, (1.0, 1.0, 1.0), (0.0, 0.0, 0.0)).write(tmp_path / f"mr{c}.nii.gz"))
    pre = transforms(("LoadImaged", {"keys": "image"}),
                     ("NormalizeIntensityd", {"keys": "image", "nonzero": True, "channel_wise": True}))
    post = transforms(("Activationsd", {"keys": "pred", "sigmoid": True}), ("Invertd", {"keys": "pred", "transform":
                      "@preprocessing", "orig_keys": "image", "nearest_interp": False, "to_tensor": True}),
                      ("AsDiscreted", {"keys": "pred", "threshold": 0.5}))
    if merge:
        post.append({"_target_": "Lambdad", "keys": "pred", "func": "$lambda x: torch.where(x[[2]] > 0, 4, "
                     "torch.where(x[[0]] > 0, 1, torch.where(x[[1]] > 0, 2, 0)))"})
    network = {**TINY_UNET, "in_channels": 4, "out_channels": 3}
    config = standard_config(pre, post, network, inferer={"_target_": "SlidingWindowInferer",
                             "roi_size": [16, 16, 16], "sw_batch_size": 1, "overlap": 0.5})
    names = {"0": "tumour core", "1": "whole tumour", "2": "enhancing tumour"}
    folder = write_bundle(tmp_path, f"brats_{merge}", config, random_network(network),
                          {"num_channels": 3, "channel_def": names},
                          {"num_channels": 4, "channel_def": {"0": "T1c", "1": "T1", "2": "T2", "3": "FLAIR"}})
    return folder, paths


@pytest.mark.parametrize("merge", [True, False])
def test_several_channels_sigmoid_outputs_and_label_merging_as_monai(tmp_path, merge):
    folder, paths = brats_like(tmp_path, merge)
    out, card = ours(folder, paths)
    expected = theirs(folder, {"image": [str(p) for p in paths]}, tmp_path)
    np.testing.assert_array_equal(out, expected)
    assert card["multi_label"] and card["channels"] == ["T1c", "T1", "T2", "FLAIR"]
    labels = predict(*load_model(folder), [Volume.read(p) for p in paths]).array
    if merge:
        assert set(np.unique(expected)) == {0, 1, 2, 4}
        np.testing.assert_array_equal(labels, expected[0])
        assert [(lb["value"], lb["name"]) for lb in card["labels"]] == [
            (1, "tumour core"), (2, "whole tumour"), (4, "enhancing tumour")]
    else:
        assert expected.shape[0] == 3 and len(np.unique(merged(expected > 0))) == 4
        np.testing.assert_array_equal(labels, merged(expected > 0))
        assert [lb["value"] for lb in card["labels"]] == [1, 2, 3]


def test_merged_keeps_nested_regions_visible():
    masks = np.zeros((3, 1, 4, 4), bool)
    masks[1] = True            # the largest region, painted first
    masks[0, :, :2] = True     # inside it
    masks[2, :, :1, :1] = True  # inside both
    out = merged(masks)
    assert out[0, 0, 0] == 3 and out[0, 1, 1] == 1 and out[0, 3, 3] == 2


def test_phases_as_separate_keys_concatenated_as_monai(tmp_path):
    """renal CECT's shape: one LoadImaged key per contrast phase, each resampled, then concatenated."""
    keys = ["arterial", "venous", "delayed"]
    paths = [oblique_ct(tmp_path / f"{k}.nii.gz", seed=3 + i) for i, k in enumerate(keys)]
    pre = transforms(("LoadImaged", {"keys": keys}), ("EnsureChannelFirstd", {"keys": keys}),
                     ("Orientationd", {"keys": keys, "axcodes": "LPS"}),
                     ("Spacingd", {"keys": keys, "pixdim": [1.2, 1.2, 1.2], "mode": "bilinear"}),
                     ("ConcatItemsd", {"keys": keys, "name": "image"}),
                     ("ScaleIntensityRanged", {"keys": "image", "a_min": -1000, "a_max": 1000, "b_min": 0.0,
                                               "b_max": 1.0, "clip": True}))
    post = transforms(("Activationsd", {"keys": "pred", "sigmoid": True}), ("Invertd", {"keys": "pred",
                      "transform": "@preprocessing", "orig_keys": "arterial", "nearest_interp": False,
                      "to_tensor": True}), ("AsDiscreted", {"keys": "pred", "threshold": 0.5}))
    network = {**TINY_UNET, "in_channels": 3, "out_channels": 2}
    folder = write_bundle(tmp_path, "phases", standard_config(pre, post, network), random_network(network),
                          {"num_channels": 2, "channel_def": {"0": "artery", "1": "vein"}}, {"num_channels": 3})
    out, card = ours(folder, paths)
    expected = theirs(folder, dict(zip(keys, map(str, paths))), tmp_path)
    np.testing.assert_array_equal(out, expected)
    assert card["channels"] == keys and [lb["name"] for lb in card["labels"]] == ["artery", "vein"]


SCRIPT = """import torch
from monai.transforms import MapTransform


class StackPhases(MapTransform):
    def __init__(self, keys, name):
        super().__init__(keys)
        self.name = name

    def __call__(self, data):
        d = dict(data)
        d[self.name] = torch.cat([d[k] for k in self.keys], 0)
        return d
"""


def test_scripts_and_architecture_files_run_only_once_trusted(tmp_path, monkeypatch):
    """A transform from the bundle's scripts/ and a network setting read by torch.load (as DiNTS reads its
    architecture file) are refused with the way to trust the bundle; trusted once, the bundle runs as MONAI
    runs it, and again without asking, until one of its files changes."""
    keys = ["a", "b"]
    paths = [oblique_ct(tmp_path / f"{k}.nii.gz", seed=7 + i) for i, k in enumerate(keys)]
    pre = transforms(("LoadImaged", {"keys": keys}), ("EnsureChannelFirstd", {"keys": keys}),
                     ("scripts.phases.StackPhases", {"keys": keys, "name": "image"}),
                     ("NormalizeIntensityd", {"keys": "image", "channel_wise": True}))
    network = {**TINY_UNET, "in_channels": 2, "channels": "$torch.load(@bundle_root + '/models/arch.pt')['channels']"}
    config = standard_config(pre, SOFTMAX_POST[:1] + SOFTMAX_POST[2:], network)
    folder = write_bundle(tmp_path, "scripted", config, random_network({**network, "channels": [4, 8]}))
    (folder / "scripts").mkdir()
    (folder / "scripts" / "__init__.py").write_text("")
    (folder / "scripts" / "phases.py").write_text(SCRIPT)
    torch.save({"channels": [4, 8]}, folder / "models" / "arch.pt")
    with pytest.raises(ModelError, match=r"torch\.load.*runs code.*--trust-bundle"):
        load_model(folder)
    literal = {**config, "network_def": {**network, "channels": [4, 8]}}
    (folder / "configs" / "inference.json").write_text(json.dumps(literal))
    with pytest.raises(ModelError, match=r"scripts/ folder.*--trust-bundle"):
        load_model(folder)
    (folder / "configs" / "inference.json").write_text(json.dumps(config))
    out, card = ours(folder, paths, trust=True)
    monkeypatch.syspath_prepend(str(folder))
    np.testing.assert_array_equal(out, theirs(folder, dict(zip(keys, map(str, paths))), tmp_path))
    assert card["trusted"] and load_model(folder)[1]["trusted"]  # remembered
    (folder / "scripts" / "phases.py").write_text(SCRIPT + "\n# changed\n")
    with pytest.raises(ModelError, match="trust"):
        load_model(folder)


@pytest.mark.parametrize("expression", [
    "$__import__('pathlib').Path('MARKER').touch()",
    "$lambda x: x.__class__.__base__",
    "$[c for c in ().__class__.__base__.__subclasses__()]",
    "$open('MARKER', 'w')",
])
def test_expressions_beyond_simple_ones_are_refused_unevaluated(tmp_path, monkeypatch, expression):
    monkeypatch.chdir(tmp_path)
    post = [*SOFTMAX_POST, {"_target_": "Lambdad", "keys": "pred", "func": expression}]
    folder = write_bundle(tmp_path, "evil", standard_config(CT_PREPROCESSING, post), random_network(TINY_UNET))
    with pytest.raises(ModelError, match="runs code"):
        load_model(folder)
    assert not (tmp_path / "MARKER").exists()


def test_swin_unetr_with_the_img_size_monai_removed(tmp_path):
    """SwinUNETR bundles pass img_size, which MONAI 1.6 no longer takes (MONAI's own ConfigParser fails on it):
    GDImaging drops it, and the run equals MONAI's on the config without it (einops does the forward pass)."""
    image = oblique_ct(tmp_path / "ct.nii.gz", shape=(20, 24, 28), spacing=(1.5, 1.2, 1.0))
    network = {"_target_": "SwinUNETR", "spatial_dims": 3, "in_channels": 1, "out_channels": 2, "feature_size": 12,
               "depths": [1, 1, 1, 1], "num_heads": [1, 1, 1, 1], "norm_name": "batch", "use_checkpoint": False}
    inferer = {"_target_": "SlidingWindowInferer", "roi_size": [32, 32, 32], "sw_batch_size": 1, "overlap": 0.25}
    pre = CT_PREPROCESSING[:3] + CT_PREPROCESSING[4:]
    net = random_network(network)
    old = write_bundle(tmp_path, "swin_old", standard_config(pre, SOFTMAX_POST, {**network, "img_size": 32}, inferer),
                       net, {"num_channels": 2})
    new = write_bundle(tmp_path, "swin_new", standard_config(pre, SOFTMAX_POST, network, inferer), net,
                       {"num_channels": 2})
    out, _ = ours(old, [image])
    np.testing.assert_array_equal(out, theirs(new, {"image": str(image)}, tmp_path))


@pytest.mark.parametrize("name, meta, inputs, reason", [
    ("spleen_deepedit_annotation", {}, None, "interactive"),
    ("vista3d", {}, None, "interactive"),
    ("pathology_nuclick_annotation", {}, None, "interactive"),
    ("pathology_tumor_detection", {}, None, "pathology"),
    ("lung_nodule_ct_detection", {"task": "CT lung nodule detection"}, None, "detection"),
    ("endoscopic_tool_segmentation", {}, {"num_channels": 3, "spatial_shape": [736, 480], "format": "RGB"},
     "RGB pictures"),
])
def test_out_of_scope_bundles_are_refused_with_the_reason(tmp_path, name, meta, inputs, reason):
    folder = write_bundle(tmp_path, name, standard_config(CT_PREPROCESSING, SOFTMAX_POST),
                          random_network(TINY_UNET), inputs=inputs, meta=meta)
    with pytest.raises(ModelError, match=reason):
        load_model(folder)


def test_gd_segment_predict_takes_one_image_per_channel(tmp_path, capsys):
    folder, paths = brats_like(tmp_path, merge=True)
    assert main(["segment", "predict", ",".join(map(str, paths)), "--model", str(folder), "--out",
                 str(tmp_path / "out"), "--device", "cpu"]) == 0
    written = Volume.read(tmp_path / "out" / "mr0.nii.gz")
    expected = theirs(folder, {"image": [str(p) for p in paths]}, tmp_path)
    np.testing.assert_array_equal(written.array, expected[0])
    assert main(["segment", "predict", str(paths[0]), "--model", str(folder), "--out", str(tmp_path / "out2"),
                 "--device", "cpu"]) != 0
    assert "4 input channel(s) (T1c, T1, T2, FLAIR) but 1 image(s)" in capsys.readouterr().err
