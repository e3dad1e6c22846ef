"""The shared training engine on a tiny real-data problem (brain vs background on Colin27 slices)."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch
from torch.utils.data import default_collate
from train_fixtures import CARD, BrainSlices, bce, ddp_config, dice, tiny_net

from gdbackend.errors import Cancelled, InputError, ModelError, ResourceError
from gdbackend.train import TrainConfig, fit, last_path, load_model_file, load_weights, loader


@pytest.fixture(scope="module")
def data() -> BrainSlices:
    return BrainSlices(8)


def cfg(**kw) -> TrainConfig:
    base = dict(epochs=6, optimizer="adam", lr=0.05, batch_size=4, device="cpu", seed=1)
    return TrainConfig(**{**base, **kw})


def weights(model: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()])


@pytest.mark.parametrize("name,lr", [("gd", 1.0), ("sgd", 0.2), ("minibatch", 0.3), ("adam", 0.05), ("adamw", 0.05)])
def test_every_optimizer_learns_the_brain(data, name, lr):
    before = dice(tiny_net(), data)
    result = fit(tiny_net(), bce, data, cfg(optimizer=name, lr=lr, epochs=15), card=CARD)
    losses = [h["loss"] for h in result.history]
    assert losses[-1] < 0.7 * losses[0], losses
    assert dice(result.model, data) > max(before, 0.6)


def test_full_batch_gd_is_one_exact_gradient_step_per_epoch(data):
    result = fit(tiny_net(), bce, data, cfg(optimizer="gd", lr=0.5, epochs=2, batch_size=2), card=CARD)
    manual = tiny_net()
    opt = torch.optim.SGD(manual.parameters(), lr=0.5)
    for _ in range(2):
        opt.zero_grad()
        bce(manual, {"image": data.image, "label": data.label}).backward()
        opt.step()
    torch.testing.assert_close(weights(result.model), weights(manual), rtol=1e-5, atol=1e-6)


def test_schedules_shape_the_learning_rate(data):
    def rates(**kw):
        events = []
        fit(tiny_net(), bce, data, cfg(batch_size=2, **kw), card=CARD, on_event=events.append)
        return [e.lr for e in events if e.kind == "step"]
    warm_cos = rates(schedule="cosine", warmup_epochs=1, lr=0.01)
    assert warm_cos[0] < warm_cos[2] and warm_cos[-1] < 1e-3 * 0.01 * 100 and max(warm_cos) <= 0.01
    step = rates(schedule="step", step_epochs=2, gamma=0.5, lr=0.01)
    assert step[0] == pytest.approx(0.01) and step[-1] == pytest.approx(0.01 * 0.5 ** 3)
    assert set(rates(lr=0.01)) == {0.01}


def test_same_seed_repeats_exactly_and_resume_continues_exactly(data, tmp_path):
    straight = fit(tiny_net(), bce, data, cfg(epochs=4), card=CARD)
    again = fit(tiny_net(), bce, data, cfg(epochs=4), card=CARD)
    assert torch.equal(weights(straight.model), weights(again.model))
    out = tmp_path / "m.pt"
    fit(tiny_net(), bce, data, cfg(epochs=2), card=CARD, out=out)
    torch.manual_seed(123)  # resume must restore RNG states, whatever happened in between
    resumed = fit(tiny_net(seed=9), bce, data, cfg(epochs=4), card=CARD, out=out, resume=last_path(out))
    assert torch.equal(weights(resumed.model), weights(straight.model))
    assert [h["epoch"] for h in resumed.history] == [1, 2, 3, 4]


class EpochFlipped(BrainSlices):
    """Augmentation that changes with the epoch, as the segmentation patches' does (through set_epoch)."""
    epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        sample = super().__getitem__(i)
        return {k: v.flip(-1) for k, v in sample.items()} if (self.epoch + i) % 2 else sample


def test_loader_workers_see_every_epochs_augmentation(data):
    flipped = EpochFlipped(8)
    one_process = fit(tiny_net(), bce, flipped, cfg(epochs=4), card=CARD)
    workers = fit(tiny_net(), bce, flipped, cfg(epochs=4, num_workers=2), card=CARD)
    assert torch.equal(weights(workers.model), weights(one_process.model))


class Unsendable:
    """What a worker cannot send, as when its shared memory is full: the batch is lost in its queue's thread."""

    def __reduce__(self):
        raise OSError(28, "No space left on device")


def collate_unsendable(samples: list) -> dict:
    return {**default_collate(samples), "unsent": Unsendable()}


def test_a_lost_batch_or_an_unpicklable_dataset_is_a_clear_error(data, monkeypatch):
    monkeypatch.setattr(loader, "TIMEOUT_S", 5.0)
    with pytest.raises(ResourceError, match="sent no batch.*--workers 0"):
        fit(tiny_net(), bce, data, cfg(num_workers=1), card=CARD, collate=collate_unsendable)
    with pytest.raises(InputError, match="can be pickled.*--workers 0"):
        fit(tiny_net(), bce, data, cfg(num_workers=1), card=CARD, collate=lambda samples: default_collate(samples))


def test_checkpoint_card_and_refusals(data, tmp_path):
    out = tmp_path / "m.pt"
    fit(tiny_net(), bce, data, cfg(epochs=2), card={**CARD, "labels": ["brain"]}, out=out)
    payload = load_model_file(out, task="engine-test")
    assert payload["card"]["labels"] == ["brain"] and payload["card"]["epochs_trained"] == 2
    assert payload["train"] is None and load_model_file(last_path(out))["train"]["epoch"] == 2
    with pytest.raises(ModelError, match="'engine-test' model, not a 'segment' model"):
        load_model_file(out, task="segment")
    wide = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.Tanh(), torch.nn.Conv2d(8, 1, 3))
    with pytest.raises(ModelError, match="do not fit"):
        load_weights(wide, payload["model"], out)
    (tmp_path / "bad.pt").write_bytes(b"not a model")
    with pytest.raises(ModelError, match="not a GDImaging model"):
        load_model_file(tmp_path / "bad.pt")
    with pytest.raises(InputError, match="no training state"):
        fit(tiny_net(), bce, data, cfg(epochs=3), card=CARD, resume=out)


def test_code_in_a_model_file_is_never_run(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned > " + str(tmp_path / "pwned"),))
    torch.save({"card": {"task": "segment"}, "model": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(ModelError):
        load_model_file(tmp_path / "evil.pt")
    assert not (tmp_path / "pwned").exists()


def test_validation_keeps_the_best_and_stops_early(data, tmp_path):
    scores = iter([0.5, 0.8, 0.7, 0.6, 0.9, 0.9])  # best at validation 2, then no gain for 2
    out = tmp_path / "m.pt"
    result = fit(tiny_net(), bce, data, cfg(epochs=6, monitor="dice", mode="max", patience=2), card=CARD,
                 validate=lambda model: {"dice": next(scores)}, out=out)
    assert result.stopped_early and len(result.history) == 4
    assert load_model_file(out)["card"]["metrics"]["dice"] == 0.8
    assert load_model_file(last_path(out))["card"]["epochs_trained"] == 4


def test_progress_events_and_cancellation(data, tmp_path):
    events, stop = [], threading.Event()

    def on_event(e):
        events.append(e)
        if e.kind == "step" and e.step == 3:
            stop.set()
    with pytest.raises(Cancelled, match="resume"):
        fit(tiny_net(), bce, data, cfg(epochs=5), card=CARD, on_event=on_event, cancel=stop.is_set,
            out=tmp_path / "m.pt")
    steps = [e for e in events if e.kind == "step"]
    assert [e.step for e in steps] == [1, 2, 3] and steps[-1].steps == 10
    assert all(e.loss > 0 and e.eta_s is not None for e in steps)
    assert [e.kind for e in events].count("epoch") == 1 and load_model_file(last_path(tmp_path / "m.pt"))


@pytest.mark.parametrize("kw,match", [(dict(optimizer="lbfgs"), "Unknown optimizer"), (dict(lr=0), "positive"),
                                      (dict(schedule="poly"), "Unknown schedule"), (dict(epochs=0), "epochs"),
                                      (dict(monitor="dice"), "Cannot monitor"), (dict(num_workers=-1), "num_workers")])
def test_bad_settings_are_refused(data, kw, match):
    with pytest.raises(InputError, match=match):
        fit(tiny_net(), bce, data, cfg(**kw), card=CARD)


def test_ddp_two_gloo_processes_match_one_process(data, tmp_path):
    single = fit(tiny_net(), bce, data, ddp_config(), card=CARD)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                          str(Path(__file__).parent / "train_fixtures.py"), str(tmp_path / "ddp.pt")],
                         env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    ddp = tiny_net()
    ddp.load_state_dict(torch.load(tmp_path / "ddp.pt", weights_only=True))
    assert not torch.equal(weights(ddp), weights(tiny_net()))
    torch.testing.assert_close(weights(ddp), weights(single.model), rtol=1e-5, atol=1e-6)
