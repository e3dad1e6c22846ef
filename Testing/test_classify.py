"""ResNet classification on real brains with inserted lesions (lesion present / absent on 3D patches):
a short training must beat chance clearly, and the CLI must train, predict and evaluate from files."""
import json

import numpy as np
import pytest
import torch

from gdbackend.classify import classification_metrics, load_classifier, predict_probabilities, train_classifier
from gdbackend.classify.data import Sample, read_samples
from gdbackend.classify.predict import prepare_inputs
from gdbackend.classify.sample import lesion_patches, write_csv
from gdbackend.cli import main
from gdbackend.errors import InputError, ModelError
from gdbackend.train import TrainConfig, load_model_file
from gdbackend.volume import Volume

# CI version: lesions of 6-20 mm with at least 20 % contrast; the benchmark runs the full range
EASY = {"diameter": (6.0, 20.0), "contrast": (0.2, 0.6)}


@pytest.fixture(scope="module")
def patches():
    return lesion_patches(32, seed=1, negatives=2, **EASY), lesion_patches(10, seed=2, negatives=2, **EASY)


@pytest.fixture(scope="module")
def trained(patches, module_tmp):
    out = module_tmp / "model.pt"
    train, val = patches
    config = TrainConfig(epochs=12, optimizer="adam", lr=1e-3, batch_size=16, schedule="cosine", monitor="auc",
                         mode="max", seed=0)
    result, card = train_classifier(train, val, config, out, network="resnet10", size=(32, 32, 32))
    return result, card, out


def test_training_beats_chance_on_held_out_brains(trained, patches):
    result, card, out = trained
    losses = [h["loss"] for h in result.history]
    assert np.mean(losses[-3:]) < 0.8 * np.mean(losses[:2]), losses
    model, loaded_card = load_classifier(out, "cpu")
    assert loaded_card["classes"] == ["absent", "present"] and loaded_card["task"] == "classify"
    val = patches[1]
    probabilities = predict_probabilities(model, prepare_inputs(val, loaded_card))
    metrics = classification_metrics(probabilities, np.array([loaded_card["classes"].index(s.label) for s in val]))
    assert metrics["auc"] > 0.75 and metrics["balanced_accuracy"] > 0.65, metrics
    assert metrics["auc"] == pytest.approx(result.best["auc"], abs=1e-6)   # the best checkpoint was kept
    assert load_model_file(out)["card"]["metrics"]["auc"] == pytest.approx(metrics["auc"], abs=1e-6)


def test_cli_train_predict_evaluate(patches, tmp_path, capsys):
    train, val = patches
    data = write_csv(train[:24], tmp_path / "train")
    test = write_csv(val[:8], tmp_path / "val")
    model = tmp_path / "cli.pt"
    assert main(["classify", "train", "--data", str(data), "--out", str(model), "--network", "resnet10",
                 "--epochs", "2", "--size", "16", "16", "16", "--balance", "sampling", "--label-smoothing", "0.1",
                 "--workers", "1", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["classes"] == ["absent", "present"] and summary["epochs"] == 2
    assert main(["classify", "evaluate", "--model", str(model), "--data", str(test), "--json",
                 "--csv", str(tmp_path / "rows.csv")]) == 0
    metrics = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(metrics) >= {"accuracy", "balanced_accuracy", "precision", "recall", "f1", "auc", "confusion"}
    assert np.sum(metrics["confusion"]) == 8 and len((tmp_path / "rows.csv").read_text().splitlines()) == 9
    box = [str(v) for v in val[0].box]
    assert main(["classify", "predict", "--model", str(model), str(tmp_path / "val" / "image000.nii.gz"),
                 "--box", *box, "--json"]) == 0
    row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert sum(row["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)


def test_bad_input_is_refused_before_training(patches, tmp_path):
    train, _ = patches
    config = TrainConfig(epochs=1)
    absent = [s for s in train if s.label == "absent"]
    with pytest.raises(InputError, match="present have no training samples"):
        train_classifier(absent, [], config, classes=["absent", "present"])
    with pytest.raises(InputError, match="two"):
        train_classifier(absent, [], config)
    outside = Sample(train[0].image, "absent", np.array([500.0, 500, 500, 540, 540, 540]))
    with pytest.raises(InputError, match="outside the image"):
        train_classifier([outside, *train[:3]], [], config)
    image = train[0].image
    wrong = Volume(np.ones((100, *image.array.shape[1:]), np.uint8), image.spacing, image.origin, image.direction)
    with pytest.raises(InputError, match="another grid"):
        train_classifier([Sample(image, "absent", None, wrong), *train[:3]], [], config)
    seg = tmp_path / "segment.pt"
    torch.save({"format": 1, "card": {"task": "segment"}, "model": {}, "train": None}, seg)
    with pytest.raises(ModelError, match="not a 'classify' model"):
        load_classifier(seg)
    (tmp_path / "sorted" / "present").mkdir(parents=True)
    (tmp_path / "sorted" / "present" / "readme.txt").write_text("no image here")
    with pytest.raises(InputError, match="no images in class sub-folders"):
        read_samples(tmp_path / "sorted")


def test_same_seed_same_run(patches):
    """The seed fixes the initial weights too: two runs give the same losses, another seed other losses."""
    train = patches[0][:12]

    def losses(seed: int) -> list[float]:
        config = TrainConfig(epochs=2, batch_size=4, seed=seed)
        result, _ = train_classifier(train, [], config, network="resnet10", size=(16, 16, 16))
        return [h["loss"] for h in result.history]

    first = losses(3)
    assert losses(3) == first and losses(4) != first
