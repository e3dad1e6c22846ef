"""Training crops of 2.5D slices: each crop keeps a lesion whole at the slice's scale, lesion-free crops sit
on tissue, boxes move with the crop, and the same seed and epoch give the same crops (resume repeats)."""
import numpy as np
import pytest
import torch

from gdbackend.detect import DetectionCase, train_detector
from gdbackend.detect.slices25d.dataset import SliceDataset, random_crop
from gdbackend.errors import InputError
from gdbackend.lesions import lesion_case
from gdbackend.train import TrainConfig


def slice_with(boxes: list[list[float]], size: int = 160) -> np.ndarray:
    stack = np.zeros((3, size, size), np.float32)
    stack[:, 40:120, 30:130] = 0.5          # tissue
    for x0, y0, x1, y1 in boxes:
        stack[:, int(y0):int(y1), int(x0):int(x1)] = 1.0
    return stack


def test_crop_keeps_one_lesion_whole():
    boxes = np.array([[50, 60, 62, 70], [100, 90, 110, 104]], np.float32)
    stack = slice_with(boxes.tolist())
    for seed in range(20):
        window, kept = random_crop(stack, boxes, 64, np.random.default_rng(seed))
        assert window.shape == (3, 64, 64) and len(kept) >= 1
        widths = kept[:, 2:] - kept[:, :2]
        whole = [np.allclose(w, b[2:] - b[:2]) for w in widths for b in boxes]
        assert any(whole)
        for x0, y0, x1, y1 in kept.astype(int):      # the boxes still frame the bright lesion pixels
            assert window[1, y0:y1, x0:x1].min() == 1.0


def test_lesion_free_crop_is_on_tissue():
    stack = slice_with([])
    for seed in range(20):
        window, kept = random_crop(stack, np.zeros((0, 4), np.float32), 64, np.random.default_rng(seed))
        assert window.shape == (3, 64, 64) and len(kept) == 0 and window[1, 32, 32] == 0.5


def test_crops_repeat_by_seed_and_epoch():
    boxes = [np.array([[50, 60, 62, 70]], np.float32)]
    data = SliceDataset([slice_with(boxes[0].tolist())], boxes, augment=True, seed=3, crop=64)
    first = data[0]
    data.set_epoch(1)
    other = data[0]
    data.set_epoch(0)
    again = data[0]
    assert torch.equal(first[0], again[0]) and torch.equal(first[1]["boxes"], again[1]["boxes"])
    assert not torch.equal(first[1]["boxes"], other[1]["boxes"])


def test_crop_size_is_checked():
    case = lesion_case("itk_t1", 1, seed=7)
    with pytest.raises(InputError, match="training crop"):
        train_detector([DetectionCase("a", case.image, case.label)], [], TrainConfig(epochs=1), size=128, crop=80)
