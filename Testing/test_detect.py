"""Faster R-CNN lesion detection on real brains with inserted lesions: a short training must make the loss
fall and put the training lesions among its best boxes far above chance (the FROC targets are the
benchmark's), and the CLI must train, predict and evaluate from files."""
import json

import numpy as np
import pytest
import torch
from torchvision.ops import box_iou

from gdbackend.cli import main
from gdbackend.detect import load_detector, train_detector
from gdbackend.detect.box_lists import read_boxes
from gdbackend.detect.data import numbered_on
from gdbackend.detect.sample import lesion_volumes, write_csv
from gdbackend.detect.slices25d.slices import slice_boxes, stack, volume_slices
from gdbackend.train import TrainConfig

# CI version: 1.5 mm slices of 160 px, lesions of 8-20 mm with at least 30 % contrast; the benchmark runs
# 1 mm slices and the full 3-20 mm, 10-60 % range
EASY = {"diameter": (8.0, 20.0), "contrast": (0.3, 0.6), "count": (2, 3)}
MODEL = {"spacing": (1.5, 1.5, 3.0), "size": 160}


@pytest.fixture(scope="module")
def trained(module_tmp):
    out = module_tmp / "detector.pt"
    train = lesion_volumes(6, seed=1, **EASY)
    # 6 epochs: hit rate 0.53 and loss down to 0.33 of its start (8 epochs: 0.67, 50 s more of the CI's 20 minutes)
    config = TrainConfig(epochs=6, optimizer="adam", lr=3e-4, batch_size=4, grad_clip=10.0, seed=0)
    result, card = train_detector(train, [], config, out, **MODEL)
    return result, card, out, train


def slice_hit_rate(model, card, cases, top: int = 3, batch: int = 8) -> float:
    """Fraction of the slices cutting a lesion where one of the `top` best boxes overlaps a lesion there."""
    hits = []
    for case in cases:
        array, grid = volume_slices(case.image, card)
        numbered = numbered_on(case, grid)
        ks = np.flatnonzero(numbered.reshape(len(numbered), -1).any(1))
        for start in range(0, len(ks), batch):   # slices of one size: batching pads nothing
            chunk = ks[start:start + batch]
            with torch.no_grad():
                out = model([torch.as_tensor(stack(array, k)) for k in chunk])
            for k, found in zip(chunk, out):
                boxes, truth = found["boxes"][:top], torch.as_tensor(slice_boxes(numbered, k))
                hits.append(bool(len(boxes)) and float(box_iou(boxes, truth).max()) >= 0.1)
    return float(np.mean(hits))


def test_loss_falls_and_lesions_are_found(trained):
    result, card, out, train = trained
    losses = [h["loss"] for h in result.history]
    assert losses[-1] < 0.6 * losses[0], losses
    model, card = load_detector(out.with_name("detector.last.pt"), "cpu")
    assert card["task"] == "detect" and card["arguments"]["min_size"] == card["size"] == 160
    # chance: 3 random boxes of a lesion's size placed in the brain (about half of a 160 x 160 slice) overlap the
    # lesion with IoU >= 0.1 about 6 % of the time. Measured with seed 0 on the six training brains: 0.34 on an AMD
    # EPYC without AVX-512 (0.27 on the first two, where an Intel machine gave 0.53: the CPU's float paths steer
    # this short run). On other brains it is 0.0 with seed 0: this short run does not generalise yet
    assert slice_hit_rate(model, card, train) >= 0.25


def test_cli_train_predict_evaluate(trained, tmp_path, capsys):
    # the model the CLI trains is the one it predicts and evaluates with (MobileNet at 128 px: a third of the time
    # of the fixture's ResNet at 160 px, whose accuracy the test above checks)
    train, model = trained[3], tmp_path / "m.pt"
    data = write_csv(train[:1], tmp_path / "data")
    assert main(["detect", "train", "--data", str(data), "--out", str(model), "--epochs", "1",
                 "--architecture", "mobilenet_v3_fpn", "--spacing", "2", "2", "4", "--size", "128", "--crop", "64",
                 "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["epochs"] == 1 and summary["size"] == 128
    image = tmp_path / "data" / "images" / f"{train[0].name}.nii.gz"
    assert main(["detect", "predict", "--model", str(model), str(image), "--out", str(tmp_path / "boxes.json")]) == 0
    boxes = json.loads((tmp_path / "boxes.json").read_text())[image.name]
    assert boxes and all(len(b["box"]) == 6 and 0 <= b["score"] <= 1 for b in boxes)
    assert main(["detect", "evaluate", "--model", str(model), "--data", str(data), "--min-size", "5", "--json",
                 "--out", str(tmp_path / "found.csv")]) == 0
    metrics = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {"sensitivity@1", "cpm", "map50", "map"} <= set(metrics)
    assert len(read_boxes(tmp_path / "found.csv")[f"images/{image.name}"]) == len(boxes)   # keyed as in the CSV
