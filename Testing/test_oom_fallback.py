"""Out-of-memory during sliding-window inference: an injected torch.OutOfMemoryError makes inference retry
with fewer windows at a time, then on the CPU; the result equals the normal one and the user is told."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from gdbackend.device import with_memory_fallback
from gdbackend.errors import ResourceError
from gdbackend.job import JobContext
from gdbackend.jobs import segment as segment_job
from gdbackend.segment import build_network, network_arguments
from gdbackend.segment.inference import model_probabilities, predict
from gdbackend.volume import Volume

CARD = {"task": "segment", "patch": [32, 32], "spacing": [1.0, 1.0], "normalisation": "zscore", "in_channels": 1,
        "spatial_dims": 2, "labels": [{"value": 1, "name": "bright", "color": [1, 0, 0]}]}


class OutOfMemoryAbove(torch.nn.Module):
    """The network, but a call with more than `limit` windows (or on `device_type`) runs out of memory."""

    def __init__(self, net: torch.nn.Module, limit: int, device_type: str | None = None) -> None:
        super().__init__()
        self.net, self.limit, self.device_type = net, limit, device_type
        self.batches: list[int] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.batches.append(len(x))
        if len(x) > self.limit or x.device.type == self.device_type:
            raise torch.OutOfMemoryError(f"CUDA out of memory. Tried to allocate {len(x)} windows")
        return self.net(x)


def tiny_unet() -> torch.nn.Module:
    torch.manual_seed(0)
    args = network_arguments("unet", 2, 1, 2, {"channels": [4, 8], "strides": [2], "num_res_units": 0})
    return build_network("unet", args).eval()


def image() -> np.ndarray:
    """A model-space image of 3 x 3 windows with something to segment."""
    rng = np.random.default_rng(1)
    a = rng.normal(size=(1, 80, 80)).astype(np.float32)
    a[0, 20:50, 30:60] += 3
    return a


def test_oom_retries_with_smaller_batches_and_gives_the_normal_result():
    net = tiny_unet()
    normal = model_probabilities(net, CARD, image(), torch.device("cpu"), sw_batch_size=4)
    flaky, messages = OutOfMemoryAbove(net, limit=1), []
    prob = model_probabilities(flaky, CARD, image(), torch.device("cpu"), report=messages.append, sw_batch_size=4)
    np.testing.assert_allclose(prob, normal, atol=1e-6)
    assert flaky.batches[:2] == [4, 2] and set(flaky.batches[2:]) == {1}
    assert messages == ["Out of cpu memory: retrying with 2 window(s) at a time.",
                        "Out of cpu memory: retrying with 1 window(s) at a time."]


def test_predict_and_the_job_tell_the_user_about_the_fallback(tmp_path, monkeypatch):
    net = tiny_unet()
    volume = Volume(image()[0] * 50 + 100, (1.0, 1.0))
    original = volume.array.copy()
    normal = predict(net, CARD, volume)
    monkeypatch.setattr(segment_job, "load_model", lambda path, device: (OutOfMemoryAbove(net, limit=1), CARD))
    volume.write(tmp_path / "image.nii.gz")
    events = []
    summary = segment_job.predict({"image": tmp_path / "image.nii.gz", "model": tmp_path / "m.pt"}, {},
                                  {"labels": tmp_path / "labels.nii.gz"}, JobContext(events.append))
    assert summary["labels"] == CARD["labels"]
    assert np.array_equal(Volume.read(tmp_path / "labels.nii.gz").array, normal.array)
    assert [e["message"] for e in events if e["event"] == "message"] == [
        "Out of cpu memory: retrying with 1 window(s) at a time."]
    assert np.array_equal(volume.array, original)


def test_after_the_smallest_batch_the_gpu_work_moves_to_the_cpu():
    messages, calls = [], []

    def run(device: torch.device, batch: int) -> str:
        calls.append((device.type, batch))
        if device.type != "cpu":
            raise torch.OutOfMemoryError("CUDA out of memory")
        return f"done on {device.type} with {batch}"

    assert with_memory_fallback(run, torch.device("cuda"), 4, messages.append) == "done on cpu with 4"
    assert calls == [("cuda", 4), ("cuda", 2), ("cuda", 1), ("cpu", 4)]
    assert messages[-1] == "Out of GPU memory even one window at a time: continuing on the CPU (slower)."


def test_out_of_memory_on_the_cpu_too_is_a_resource_error():
    def run(device, batch):
        raise torch.OutOfMemoryError("out of memory")

    with pytest.raises(ResourceError, match="Out of memory on the CPU even one window at a time"):
        with_memory_fallback(run, torch.device("cpu"), 2, lambda m: None)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_oom_falls_back_to_the_cpu_and_keeps_the_model_on_the_gpu():
    net = tiny_unet()
    normal = model_probabilities(net, CARD, image(), torch.device("cpu"))
    flaky, messages = OutOfMemoryAbove(net, limit=8, device_type="cuda").cuda(), []
    prob = model_probabilities(flaky, CARD, image(), torch.device("cuda"), report=messages.append)
    np.testing.assert_allclose(prob, normal, atol=1e-5)
    assert "continuing on the CPU" in messages[-1]
    assert next(flaky.parameters()).is_cuda


def test_classification_retries_with_fewer_patches():
    from gdbackend.classify import predict_probabilities
    from gdbackend.classify.networks import build_network as classifier
    from gdbackend.classify.networks import network_arguments as classifier_arguments

    torch.manual_seed(0)
    net = classifier("resnet10", classifier_arguments("resnet10", 2, 2)).eval()
    inputs = np.random.default_rng(0).normal(size=(6, 1, 32, 32)).astype(np.float32)
    normal, messages = predict_probabilities(net, inputs, batch_size=4), []
    flaky = OutOfMemoryAbove(net, limit=2)
    np.testing.assert_allclose(predict_probabilities(flaky, inputs, 4, messages.append), normal, atol=1e-6)
    assert flaky.batches[0] == 4 and max(flaky.batches[1:]) == 2
    assert messages == ["Out of cpu memory: retrying with 2 patch(es) at a time."]


class DetectorOutOfMemoryAbove(OutOfMemoryAbove):
    """A detector takes a list of slices: more than `limit` at a time runs out of memory."""

    def forward(self, images: list[torch.Tensor]) -> list[dict]:
        self.batches.append(len(images))
        if len(images) > self.limit:
            raise torch.OutOfMemoryError(f"CUDA out of memory. Tried to allocate {len(images)} slices")
        return self.net(images)


def test_detection_retries_with_fewer_slices():
    from gdbackend.detect import build_detector, detect_volume
    from gdbackend.detect.slices25d.networks import detector_arguments
    from gdbackend.lesions import lesion_case

    torch.manual_seed(0)
    net = build_detector("resnet18_fpn", detector_arguments("resnet18_fpn", 64)).eval()
    card = {"spacing": [4.0, 4.0, 8.0], "size": 64, "normalisation": "percentile"}
    image = lesion_case("itk_t1", 1, seed=3).image
    boxes, scores = detect_volume(net, card, image, batch_size=4)
    flaky, messages = DetectorOutOfMemoryAbove(net, limit=1), []
    again = detect_volume(flaky, card, image, batch_size=4, report=messages.append)
    np.testing.assert_allclose(again[0], boxes, atol=1e-4)
    np.testing.assert_allclose(again[1], scores, atol=1e-5)
    assert flaky.batches[:2] == [4, 2] and messages[-1] == "Out of cpu memory: retrying with 1 slice(s) at a time."
