"""Export of trained models with torch.export: the exported file gives the same outputs as the checkpoint's
network (on the training size and on other sizes and batches) and carries the model card."""
from __future__ import annotations

import importlib.util

import pytest
import torch

from gdbackend.classify.networks import build_network as build_classifier
from gdbackend.classify.networks import network_arguments as classifier_args
from gdbackend.classify.predict import load_classifier
from gdbackend.cli import main
from gdbackend.errors import InputError, ModelError
from gdbackend.export import export, load_card
from gdbackend.segment import Case, load_model, parse_labels, sample, train_segmentation
from gdbackend.train import TrainConfig, save_checkpoint
from gdbackend.volume import Volume


@pytest.fixture(scope="module")
def segmentation_model(module_tmp):
    """Two epochs of a 2D U-Net on axial slices of the Colin27 head (brain vs background)."""
    colin = sample.colin27()

    def axial(k: int) -> Case:
        return Case(f"z{k}", Volume(colin.image.array[k], colin.image.spacing[:2]),
                    Volume(colin.label.array[k], colin.image.spacing[:2]))
    out = module_tmp / "seg.pt"
    train_segmentation([axial(70), axial(90)], [], parse_labels("1:brain"),
                       TrainConfig(epochs=2, batch_size=2, device="cpu", seed=0), out, patch=(32,),
                       spacing=(4.0,), network_overrides={"channels": [4, 8, 16], "strides": [2, 2]},
                       samples_per_case=2)
    return out


def same_outputs(model: torch.nn.Module, exported: torch.nn.Module, *shapes: tuple[int, ...]) -> None:
    g = torch.Generator().manual_seed(1)
    for shape in shapes:
        x = torch.randn(*shape, generator=g)
        with torch.no_grad():
            want, got = model(x), exported(x)
        assert got.shape == want.shape
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_segmentation_model_exports_with_torch_export(segmentation_model, tmp_path):
    out = tmp_path / "seg.pt2"
    assert main(["export", str(segmentation_model), str(out), "--format", "pt2"]) == 0
    model, card = load_model(segmentation_model)
    exported = torch.export.load(str(out)).module()
    same_outputs(model, exported, (1, 1, 32, 32), (3, 1, 32, 32), (2, 1, 64, 48))
    assert load_card(out)["labels"] == card["labels"] and load_card(out)["patch"] == [32, 32]


def test_classification_model_exports_with_torch_export(tmp_path):
    torch.manual_seed(0)
    arguments = classifier_args("resnet10", 3, 2)
    card = {"task": "classify", "network": "resnet10", "arguments": arguments, "spatial_dims": 3,
            "in_channels": 1, "size": [16, 16, 16], "classes": ["normal", "lesion"]}
    path = save_checkpoint(tmp_path / "cls.pt", build_classifier("resnet10", arguments).state_dict(), card)
    export(path, tmp_path / "cls.pt2")
    model, _ = load_classifier(path)
    same_outputs(model, torch.export.load(str(tmp_path / "cls.pt2")).module(), (1, 1, 16, 16, 16), (4, 1, 16, 16, 16))


def test_bad_exports_are_refused(segmentation_model, tmp_path):
    with pytest.raises(InputError, match="Unknown export format"):
        export(segmentation_model, tmp_path / "x", "tflite")
    save_checkpoint(tmp_path / "det.pt", {}, {"task": "detect"})
    with pytest.raises(ModelError, match="only segmentation and classification"):
        export(tmp_path / "det.pt", tmp_path / "det.pt2")
    if importlib.util.find_spec("onnx") is None:
        with pytest.raises(InputError, match="pip install onnx"):
            export(segmentation_model, tmp_path / "seg.onnx", "onnx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["det.pt"], "a refused export writes nothing"
