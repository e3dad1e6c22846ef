"""The other architectures (issue 7): VGG and DenseNet classifiers, RetinaNet and FCOS 2.5D detectors and
MONAI's 3D RetinaNet and the U-Net lesion detector each train, predict and evaluate through the CLI on real
brains with inserted lesions;
model files load back (weights only) and give the same outputs; bad choices are refused with clear errors."""
import json

import numpy as np
import pytest
import torch

from gdbackend.boxes import components, to_physical, to_voxels
from gdbackend.classify import load_classifier, predict_probabilities, train_classifier
from gdbackend.classify.networks import build_network, network_arguments
from gdbackend.classify.planar import planar_samples
from gdbackend.classify.predict import prepare_inputs
from gdbackend.classify.sample import lesion_patches
from gdbackend.classify.sample import write_csv as write_patches
from gdbackend.cli import main
from gdbackend.detect import build_detector, detect_volume, load_detector, train_detector, train_retina3d, truth_boxes
from gdbackend.detect.retina3d.dataset import PatchDataset
from gdbackend.detect.sample import lesion_volumes
from gdbackend.detect.sample import write_csv as write_volumes
from gdbackend.detect.slices25d.networks import detector_arguments
from gdbackend.errors import InputError
from gdbackend.grids import covering_grid
from gdbackend.train import TrainConfig, load_model_file

EASY = {"diameter": (8.0, 20.0), "contrast": (0.3, 0.6)}


@pytest.fixture(scope="module")
def patches():
    return lesion_patches(6, seed=1, negatives=2, **EASY)


@pytest.fixture(scope="module")
def volumes():
    return lesion_volumes(2, seed=1, count=(2, 3), **EASY)


def last_json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


@pytest.mark.parametrize("network,size", [("vgg11_bn", (32, 32)), ("densenet121", (32, 32)),
                                          ("densenet121", (32, 32, 32))])
def test_classifier_cli(network, size, patches, tmp_path, capsys):
    samples = planar_samples(patches) if len(size) == 2 else patches
    data = write_patches(samples, tmp_path / "data")
    model = tmp_path / "model.pt"
    assert main(["classify", "train", "--data", str(data), "--out", str(model), "--network", network, "--epochs", "2",
                 "--batch-size", "8", "--size", *map(str, size), "--json"]) == 0
    assert last_json(capsys)["epochs"] == 2
    card = load_model_file(model, task="classify")["card"]
    assert card["network"] == network and card["spatial_dims"] == len(size)
    assert main(["classify", "evaluate", "--model", str(model), "--data", str(data), "--json"]) == 0
    metrics = last_json(capsys)
    assert np.sum(metrics["confusion"]) == len(samples) and 0 <= metrics["auc"] <= 1
    box = [str(v) for v in samples[0].box]
    assert main(["classify", "predict", "--model", str(model), str(tmp_path / "data" / "image000.nii.gz"),
                 "--box", *box, "--json"]) == 0
    assert sum(last_json(capsys)["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)


def test_classifier_model_file_round_trip(patches, tmp_path):
    """Saved and loaded back with weights_only, a VGG gives the outputs of the network that was trained."""
    samples = planar_samples(patches[:12])
    result, card = train_classifier(samples, [], TrainConfig(epochs=1, batch_size=6), tmp_path / "vgg.pt",
                                    network="vgg13_bn", size=(32, 32))
    model, loaded = load_classifier(tmp_path / "vgg.pt")
    inputs = prepare_inputs(samples, loaded)
    assert loaded["arguments"] == card["arguments"] and loaded["arguments"]["head_width"] == 256
    # the small head of the docs: pooled 512 features, one hidden layer, dropout
    assert [type(m).__name__ for m in model.classifier] == ["Linear", "ReLU", "Dropout", "Linear"]
    np.testing.assert_allclose(predict_probabilities(model, inputs), predict_probabilities(result.model, inputs),
                               atol=1e-6)


def test_classifier_choices_are_checked(patches, tmp_path, capsys):
    with pytest.raises(InputError, match="2D network"):
        network_arguments("vgg16_bn", 3, 2)
    with pytest.raises(InputError, match="Unknown network 'vgg19'"):
        network_arguments("vgg19", 2, 2)
    with pytest.raises(InputError, match="too small for densenet121"):
        train_classifier(patches, [], TrainConfig(epochs=1), network="densenet121", size=(16, 16, 16))
    data = write_patches(patches[:6], tmp_path / "data")
    assert main(["classify", "train", "--data", str(data), "--out", str(tmp_path / "x.pt"), "--network", "vgg11_bn",
                 "--size", "32", "32", "32"]) == 2
    assert "2D network" in capsys.readouterr().err
    # the 3D and 2D DenseNets really are what their cards say
    densenet = build_network("densenet169", network_arguments("densenet169", 3, 3))
    assert densenet(torch.zeros(2, 1, 32, 32, 32)).shape == (2, 3)


# --workers 1: each kind of training dataset also goes through a spawned data-loader process
@pytest.mark.parametrize("architecture,options", [
    ("retinanet_resnet18_fpn", ["--spacing", "3", "3", "6", "--size", "96", "--workers", "1"]),
    ("fcos_resnet18_fpn", ["--spacing", "3", "3", "6", "--size", "96"]),
    ("retinanet3d", ["--spacing", "4", "4", "4", "--patch-size", "32", "32", "32", "--patches-per-volume", "2",
                     "--workers", "1"]),
    ("unet3d", ["--spacing", "4", "4", "4", "--patch-size", "24", "24", "24", "--patches-per-volume", "2",
                "--workers", "1"])])
def test_detector_cli(architecture, options, volumes, tmp_path, capsys):
    data = write_volumes(volumes, tmp_path / "data")
    model = tmp_path / "model.pt"
    assert main(["detect", "train", "--data", str(data), "--val", str(data), "--out", str(model), "--epochs", "1",
                 "--batch-size", "2", "--architecture", architecture, *options, "--json"]) == 0
    summary = last_json(capsys)
    assert summary["epochs"] == 1 and {"cpm", "map50"} <= set(summary["best"])
    card = load_model_file(model, task="detect")["card"]
    assert card["architecture"] == architecture
    assert card.get("pipeline", "2.5d") == {"retinanet3d": "3d", "unet3d": "segmentation"}.get(architecture, "2.5d")
    image = tmp_path / "data" / "images" / f"{volumes[0].name}.nii.gz"
    assert main(["detect", "predict", "--model", str(model), str(image), "--out", str(tmp_path / "boxes.json")]) == 0
    boxes = json.loads((tmp_path / "boxes.json").read_text())[image.name]
    assert all(len(b["box"]) == 6 and 0 <= b["score"] <= 1 and np.all(np.diff(np.reshape(b["box"], (2, 3)), axis=0) > 0)
               for b in boxes)
    # the CLI's boxes are those of the model file loaded back in this process (weights only)
    found, scores = detect_volume(*load_detector(model), volumes[0].image)
    np.testing.assert_allclose([b["box"] for b in boxes], found.reshape(-1, 6), atol=2e-3)
    assert main(["detect", "evaluate", "--model", str(model), "--data", str(data), "--json"]) == 0
    assert {"sensitivity@1", "cpm", "map50", "map"} <= set(last_json(capsys))


def test_retina3d_model_file_round_trip(volumes, tmp_path):
    result, card = train_retina3d(volumes[:1], [], TrainConfig(epochs=1, batch_size=2), tmp_path / "r3d.pt",
                                  spacing=(4.0, 4.0, 4.0), patch_size=(32, 32, 32), patches_per_volume=2)
    model, loaded = load_detector(tmp_path / "r3d.pt")
    assert loaded["pipeline"] == "3d" and loaded["arguments"] == card["arguments"]
    before, after = detect_volume(result.model, card, volumes[1].image), detect_volume(model, loaded, volumes[1].image)
    assert len(before[0])
    np.testing.assert_allclose(after[0], before[0], atol=1e-4)
    np.testing.assert_allclose(after[1], before[1], atol=1e-5)


def test_retina3d_patches_box_their_lesions(volumes):
    """Patch boxes bound the lesions of the patch, flips included: the dataset run on the label map itself."""
    case = volumes[0]
    grid = covering_grid(case.image, (4.0, 4.0, 4.0))
    numbered = case.label.with_array(components(case.label).astype(np.float32)).resample_to(grid, "nearest")
    array = numbered.array.transpose(2, 1, 0)
    boxes = to_voxels(truth_boxes(case), grid)
    np.testing.assert_allclose(to_physical(boxes, grid), truth_boxes(case), atol=1e-6)
    patch = tuple(int(np.ceil(s / 16) * 16) for s in array.shape)   # the whole volume: every lesion inside
    dataset = PatchDataset([array], [boxes], patch, 4, 0.5, True, 0)
    assert dataset.flips.any()
    for i in range(len(dataset)):
        x, target = dataset[i]
        found = []
        for n in np.unique(x[0].numpy())[1:]:
            where = np.argwhere(x[0].numpy() == n)
            found.append([*where.min(0), *(where.max(0) + 1)])
        assert len(found) == len(target["boxes"]) == len(boxes)
        # nearest resampling moves a lesion's edge by up to one voxel
        for b in target["boxes"].numpy():
            assert np.abs(np.array(found) - b).max(1).min() <= 1.0, (found, b)


def test_detector_choices_are_checked(volumes, capsys):
    with pytest.raises(InputError, match="Unknown detector 'yolov8'"):
        detector_arguments("yolov8", 128)
    with pytest.raises(InputError, match="whole volumes"):
        train_detector(volumes, [], TrainConfig(epochs=1), architecture="retinanet3d", size=128)
    with pytest.raises(InputError, match="multiples of 16"):
        train_retina3d(volumes, [], TrainConfig(epochs=1), patch_size=(40, 40, 40))
    assert main(["detect", "train", "--data", "none.csv", "--out", "x.pt", "--architecture", "retinanet3d",
                 "--size", "128"]) == 2
    assert "--patch-size" in capsys.readouterr().err
    assert main(["detect", "train", "--data", "none.csv", "--out", "x.pt", "--architecture", "unet3d",
                 "--weights", "coco.pth"]) == 2
    assert "random weights" in capsys.readouterr().err
    # the one-stage heads sit on the ResNet-18-FPN with 4-64 px anchors, 3 shapes per location
    retina = build_detector("retinanet_resnet18_fpn", detector_arguments("retinanet_resnet18_fpn", 128))
    assert retina.anchor_generator.sizes == ((4,), (8,), (16,), (32,), (64,))
    assert retina.head.classification_head.num_anchors == 3
