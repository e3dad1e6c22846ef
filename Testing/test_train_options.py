"""The training options that the three `gd ... train` commands share reach the engine in the same way, each
command with its own defaults."""
import pytest

from gdbackend.cli import build_parser
from gdbackend.train.options import training_config

REQUIRED = {"segment": ["--data", "d", "--labels", "1:brain", "--out", "m.pt"],
            "classify": ["--data", "d.csv", "--out", "m.pt"], "detect": ["--data", "d.csv", "--out", "m.pt"]}


@pytest.mark.parametrize("task,epochs,lr,batch", [("segment", 100, 3e-3, 2), ("classify", 30, 1e-3, 16),
                                                  ("detect", 10, 3e-4, 4)])
def test_every_train_command_takes_the_shared_options(task, epochs, lr, batch):
    parse = build_parser().parse_args
    default = training_config(parse([task, "train", *REQUIRED[task]]), validates=False, metric="x")
    assert (default.epochs, default.lr, default.batch_size) == (epochs, lr, batch)
    assert default.num_workers is None and default.amp and default.monitor == "loss" and default.mode == "min"
    args = parse([task, "train", *REQUIRED[task], "--workers", "3", "--no-amp", "--grad-clip", "5", "--seed", "7",
                  "--device", "cpu", "--warmup-epochs", "2"])
    config = training_config(args, validates=True, metric="auc")
    assert (config.num_workers, config.amp, config.grad_clip, config.seed, config.device, config.warmup_epochs) == \
        (3, False, 5.0, 7, "cpu", 2)
    assert (config.monitor, config.mode) == ("auc", "max")
