"""Detection refuses bad input before any work: boxes outside the image, an empty box list, a label map on
another grid, no lesion at all, a model of another task."""
import numpy as np
import pytest
import torch

from gdbackend.cli import main
from gdbackend.detect import DetectionCase, load_detector, read_cases, train_detector
from gdbackend.errors import InputError, ModelError
from gdbackend.lesions import lesion_case
from gdbackend.train import TrainConfig
from gdbackend.volume import Volume


@pytest.fixture(scope="module")
def case():
    return lesion_case("itk_t1", 2, seed=7)


def test_refused_before_training(case):
    config = TrainConfig(epochs=1)
    outside = DetectionCase("outside", case.image, boxes=case.boxes + np.array([0, 0, 0, 0, 0, 400.0]))
    with pytest.raises(InputError, match="outside the image"):
        train_detector([outside], [], config)
    coarse = case.label.resample_to(Volume(np.zeros((31, 64, 64)), (4.0, 4.0, 6.0), case.image.origin,
                                           case.image.direction), "nearest")
    with pytest.raises(InputError, match="another grid"):
        train_detector([DetectionCase("grid", case.image, coarse)], [], config)
    empty = DetectionCase("empty", case.image, case.label.with_array(np.zeros_like(case.label.array)))
    with pytest.raises(InputError, match="no lesion"):
        train_detector([empty], [], config)
    with pytest.raises(InputError, match="no ground truth"):
        train_detector([DetectionCase("none", case.image)], [], config)
    with pytest.raises(InputError, match="Unknown detector"):
        train_detector([DetectionCase("x", case.image, case.label)], [], config, architecture="yolo")


def test_box_lists_from_files(case, tmp_path, capsys):
    case.image.write(tmp_path / "brain.nii.gz")
    (tmp_path / "data.csv").write_text("image\nbrain.nii.gz\n")
    rows = "\n".join("brain.nii.gz," + ",".join(f"{v:.2f}" for v in b) for b in case.boxes)
    (tmp_path / "boxes.csv").write_text("image,x0,y0,z0,x1,y1,z1\n" + rows + "\n")
    [read] = read_cases(tmp_path / "data.csv", tmp_path / "boxes.csv")
    np.testing.assert_allclose(read.boxes, case.boxes, atol=0.01)
    (tmp_path / "none.json").write_text('{"brain.nii.gz": []}')
    assert main(["detect", "train", "--data", str(tmp_path / "data.csv"), "--boxes", str(tmp_path / "none.json"),
                 "--out", str(tmp_path / "m.pt")]) == 2
    assert "holds no boxes" in capsys.readouterr().err
    (tmp_path / "other.json").write_text('{"other.nii.gz": [[0, 0, 0, 1, 1, 1]]}')
    with pytest.raises(InputError, match="not in the box list"):
        read_cases(tmp_path / "data.csv", tmp_path / "other.json")


def test_model_of_another_task(tmp_path):
    path = tmp_path / "classifier.pt"
    torch.save({"format": 1, "card": {"task": "classify"}, "model": {}, "train": None}, path)
    with pytest.raises(ModelError, match="not a 'detect' model"):
        load_detector(path)


def test_same_seed_same_detector(case):
    """The seed fixes the initial weights too: two runs of the ResNet-18-FPN give the same loss."""
    def loss(seed: int) -> float:
        config = TrainConfig(epochs=1, batch_size=4, seed=seed)
        result, _ = train_detector([DetectionCase("a", case.image, case.label)], [], config,
                                   architecture="resnet18_fpn", spacing=(3.0, 3.0, 6.0), size=64)
        return result.history[-1]["loss"]

    first = loss(1)
    assert loss(1) == first and loss(2) != first
