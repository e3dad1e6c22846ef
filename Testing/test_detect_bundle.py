"""MONAI Model Zoo detection bundles run by GDImaging exactly as MONAI runs them: a bundle written here in the
layout of lung_nodule_ct_detection (RetinaNet on a ResNet built by expressions, detector_ops, Spacingd disabled by
an expression, box postprocessing to LPS world coordinates) is run both by `gdbackend` and by MONAI's own
pipeline (ConfigParser, the detector, the postprocessing, as the zoo's evaluator runs them) on the same random
weights and image file: boxes, scores and labels agree. The published lung_nodule config builds and runs through
the same path; detection bundles GDImaging cannot run are refused with the reason."""
from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest
import torch
from bundle_fixtures import (
    LUNG_NODULE,
    TINY_UNET,
    ct_with_nodules,
    detection_config,
    monai_detect,
    random_detector,
    random_network,
    standard_config,
    transforms,
    write_bundle,
)

from gdbackend.cli import main
from gdbackend.detect import load_detector
from gdbackend.errors import ModelError
from gdbackend.job import run_spec
from gdbackend.segment import load_model
from gdbackend.volume import Volume

CLASSES = {"num_channels": 2, "channel_def": {"0": "nodule", "1": "mass"}}


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GDIMAGING_CACHE", str(tmp_path / "cache"))  # trust records go here


def bundle(tmp_path, name: str, config: dict):
    return write_bundle(tmp_path, name, config, random_detector(config), CLASSES)


def lps_corners(found: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MONAI's postprocessed boxes (cccwhd, LPS mm: the config's affine_lps_to_ras) as [x0, y0, z0, x1, y1, z1]
    corners, with their scores and labels."""
    box = found["box"].double().numpy()
    corners = np.concatenate([box[:, :3] - box[:, 3:] / 2, box[:, :3] + box[:, 3:] / 2], 1)
    return corners, found["label_scores"].numpy(), found["label"].numpy()


def extent(image: Volume) -> tuple[np.ndarray, np.ndarray]:
    """The LPS bounding box of the image's voxel centres, widened by a voxel diagonal."""
    k, j, i = np.array(image.array.shape) - 1
    corners = np.array([[x, y, z, 1] for x in (0, i) for y in (0, j) for z in (0, k)], float)
    points = (image.index_to_physical() @ corners.T).T[:, :3]
    margin = float(np.linalg.norm(image.spacing))
    return points.min(0) - margin, points.max(0) + margin


@pytest.mark.parametrize("resampled, roi, window", [
    (True, None, True),            # the zoo's default (data already resampled): Spacingd disabled, sliding window
    (False, None, True),           # raw data: Spacingd onto 0.9 x 0.9 x 1.5 mm of the rotated grid, then windows
    (True, [64, 64, 32], False)])  # an image smaller than a window goes through the network whole
def test_a_detection_bundle_detects_as_monai(tmp_path, resampled, roi, window):
    """Read by the bundle's LoadImaged from the file, as MONAI reads it, the image gives MONAI's boxes, scores
    and labels: scores and labels exactly, boxes to 1e-6 mm (both sides turn MONAI's float32 cccwhd boxes into
    corners in float64). From the Volume alone (as from Slicer) the boxes differ by at most 1e-3 mm: NIfTI keeps
    the affine in float32, SimpleITK's geometry in float64."""
    path = ct_with_nodules(tmp_path / "ct.nii.gz")
    folder = bundle(tmp_path, "nodules", detection_config(resampled, roi))
    model, card = load_detector(folder)
    assert (np.prod(roi or [32, 32, 16]) <= 24 * 44 * 48) == window  # the branch of the inferer's rule that runs
    boxes, scores, labels = model.detect(Volume.read(path), file=path)
    expected, expected_scores, expected_labels = lps_corners(monai_detect(folder, [{"image": str(path)}])[0])
    assert len(scores) > 50 and set(labels) == {0, 1}  # many boxes of both classes: not an empty comparison
    np.testing.assert_array_equal(scores, expected_scores)
    np.testing.assert_array_equal(labels, expected_labels)
    np.testing.assert_allclose(boxes, expected, atol=1e-6)
    low, high = extent(Volume.read(path))
    assert np.all(boxes[:, :3] >= low) and np.all(boxes[:, 3:] <= high)  # LPS, inside the image
    from_volume, volume_scores, _ = model.detect(Volume.read(path))
    np.testing.assert_allclose(from_volume, expected, atol=1e-3)
    np.testing.assert_allclose(volume_scores, expected_scores, atol=1e-5)
    assert card["spacing"] == (None if resampled else pytest.approx([0.9, 0.9, 1.5]))
    assert card["patch_size"] == (roi or [32, 32, 16]) and card["classes"] == ["nodule", "mass"]
    assert card["score_threshold"] == 0.02 and card["pipeline"] == "monai-bundle"


def test_boxes_come_back_in_lps_whatever_frame_the_postprocessing_leaves(tmp_path):
    """World boxes in RAS (affine_lps_to_ras false), boxes left in image coordinates (no AffineBoxToWorld-
    Coordinated: GDImaging maps them as it would) and corner-mode boxes all give the same LPS boxes."""
    path = ct_with_nodules(tmp_path / "ct.nii.gz")
    config = detection_config()
    expected = load_detector(bundle(tmp_path, "lps", config))[0].detect(Volume.read(path), file=path)
    post = config["postprocessing"]["transforms"]
    changes = {"ras": [post[0], {**post[1], "affine_lps_to_ras": False}, *post[2:]], "image": [post[0], post[3]],
               "corners": [*post[:2], post[3]]}
    for name, changed in changes.items():
        folder = bundle(tmp_path, name, {**config, "postprocessing": {"_target_": "Compose", "transforms": changed}})
        found = load_detector(folder)[0].detect(Volume.read(path), file=path)
        np.testing.assert_allclose(found[0], expected[0], atol=1e-4, err_msg=name)
        np.testing.assert_array_equal(found[1], expected[1])


def test_gd_detect_predict_and_the_detect_job_take_a_bundle_folder(tmp_path, capsys):
    path = ct_with_nodules(tmp_path / "ct.nii.gz")
    folder = bundle(tmp_path, "nodules", detection_config())
    expected, scores, _ = lps_corners(monai_detect(folder, [{"image": str(path)}])[0])
    assert main(["detect", "predict", "--model", str(folder), str(path), "--out", str(tmp_path / "boxes.json"),
                 "--device", "cpu", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["boxes"] == {"ct.nii.gz": len(scores)}
    written = json.loads((tmp_path / "boxes.json").read_text())["ct.nii.gz"]
    np.testing.assert_allclose([b["box"] for b in written], expected, atol=2e-3)  # 3 decimals
    np.testing.assert_allclose([b["score"] for b in written], scores, atol=1e-5)
    threshold = float(np.median(scores))
    done = run_spec({"kind": "detect.predict", "inputs": {"image": str(path), "model": str(folder)},
                     "options": {"threshold": threshold, "device": "cpu"},
                     "outputs": {"boxes": str(tmp_path / "b.csv")}})
    kept = scores >= threshold
    assert 0 < kept.sum() < len(scores) and len(done["summary"]["boxes"]) == kept.sum()
    with open(tmp_path / "b.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    np.testing.assert_allclose([[float(r[c]) for c in ("x0", "y0", "z0", "x1", "y1", "z1")] for r in rows],
                               expected[kept], atol=2e-3)


def test_the_published_lung_nodule_config_builds_and_runs_as_monai(tmp_path):
    """lung_nodule_ct_detection's configs as the zoo publishes them, with random weights for its ResNet-50
    RetinaNet: GDImaging builds the detector with the config's settings and detects as MONAI does. (MONAI 1.6's
    own ConfigParser no longer takes the config's EnsureChannelFirstd meta_key_postfix, which GDImaging drops:
    MONAI runs the config without it.)"""
    folder = tmp_path / "lung_nodule_ct_detection"
    shutil.copytree(LUNG_NODULE, folder)
    config = json.loads((folder / "configs" / "inference.json").read_text())
    (folder / "models").mkdir()
    torch.save(random_detector(config, stir=0.01).state_dict(), folder / "models" / "model.pt")
    model, card = load_detector(folder)
    detector = model.detector
    selector, inferer = detector.box_selector, detector.inferer
    assert (selector.score_thresh, selector.topk_candidates_per_level, selector.nms_thresh,
            selector.detections_per_img) == (0.02, 1000, 0.22, 300)
    assert (list(inferer.roi_size), inferer.overlap, inferer.sw_batch_size, inferer.mode) == \
        ([512, 512, 192], 0.25, 1, "constant")
    assert inferer.device is None  # the config's device='cpu' for the windows' output: GDImaging's --device
    assert detector.size_divisible == (16, 16, 8) and model.amp and not model.force_window
    assert [type(t).__name__ for t in model.preprocessing.transforms] == [
        "LoadImaged", "EnsureChannelFirstd", "Orientationd", "ScaleIntensityRanged", "EnsureTyped"]
    assert card["spacing"] is None and card["version"] == "0.6.8" and card["classes"] == ["class 0"]
    path = ct_with_nodules(tmp_path / "ct.nii.gz", shape=(32, 64, 64), spacing=(0.703125, 0.703125, 1.25))
    boxes, scores, labels = model.detect(Volume.read(path), file=path)
    for t in config["preprocessing"]["transforms"]:
        if t["_target_"] == "EnsureChannelFirstd":
            del t["meta_key_postfix"]
    expected, expected_scores, expected_labels = lps_corners(monai_detect(folder, [{"image": str(path)}], config)[0])
    assert len(scores) > 5
    np.testing.assert_array_equal(scores, expected_scores)
    np.testing.assert_array_equal(labels, expected_labels)
    np.testing.assert_allclose(boxes, expected, atol=1e-6)


def with_op(config: dict, op: str) -> dict:
    return {**config, "detector_ops": [*config["detector_ops"], op]}


@pytest.mark.parametrize("change, message", [
    (lambda c: with_op(c, "$__import__('pathlib').Path('MARKER').touch()"), "runs code.*--trust-bundle"),
    (lambda c: with_op(c, "$@detector.__setattr__('MARKER', 1)"), "calls only set_target_keys"),
    (lambda c: {**c, "backbone": "$monai.networks.nets.resnet.resnet10(pretrained=True, n_input_channels=1)"},
     "pretrained weights"),
    (lambda c: {**c, "postprocessing": {"_target_": "Compose", "transforms": [
        *c["postprocessing"]["transforms"][:2], *transforms(
            ("FlipBoxd", {"image_keys": "image", "box_keys": "box", "box_ref_image_keys": "image"}))]}},
     "FlipBoxd, which GDImaging cannot map back"),
])
def test_detection_bundles_that_cannot_run_are_refused(tmp_path, monkeypatch, change, message):
    monkeypatch.chdir(tmp_path)
    config = detection_config()
    folder = write_bundle(tmp_path, "nodules", change(config), random_detector(config), CLASSES)
    with pytest.raises(ModelError, match=message):
        load_detector(folder)
    assert not (tmp_path / "MARKER").exists()


def test_a_trusted_bundle_makes_its_other_detector_settings_with_monai(tmp_path):
    """A detector call beyond the inference setters (a training setting, in a config shared with training)
    needs the user's trust; trusted, MONAI makes it."""
    config = with_op(detection_config(), "$@detector.set_regular_matcher(0.5, 0.4, allow_low_quality_matches=True)")
    folder = bundle(tmp_path, "nodules", config)
    with pytest.raises(ModelError, match="--trust-bundle"):
        load_detector(folder)
    model, card = load_detector(folder, trust=True)
    assert card["trusted"] and model.detector.proposal_matcher.high_threshold == 0.5
    assert list(model.detector.inferer.roi_size) == [32, 32, 16] and model.detector.inferer.device is None


def test_each_path_refuses_the_others_bundles(tmp_path):
    detection = bundle(tmp_path, "lung_nodule_ct_detection", detection_config())
    with pytest.raises(ModelError, match="a detection model.*gd detect predict"):
        load_model(detection)
    segmentation = write_bundle(tmp_path, "spleen_ct_segmentation", standard_config([], []),
                                random_network(TINY_UNET))
    with pytest.raises(ModelError, match='defines no "detector".*gd segment predict'):
        load_detector(segmentation)
