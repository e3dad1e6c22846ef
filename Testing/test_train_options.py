"""The training options are declared once (gdbackend.train.options): the three `gd ... train` commands and
the training jobs take exactly those options, with the same types, choices and each task's defaults, and the
declarations import without torch (the Slicer panel reads them before PyTorch is installed)."""
import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from gdbackend.classify import cli as classify_cli
from gdbackend.cli import build_parser
from gdbackend.detect import cli as detect_cli
from gdbackend.device import DEVICES
from gdbackend.jobs import KINDS
from gdbackend.segment import cli as segment_cli
from gdbackend.train.options import DEFAULTS, JOB_TYPES, OPTIONS, TASK_DEFAULTS, TrainConfig, defaults, training_config

ROOT = Path(__file__).resolve().parents[1]
CLIS = {"segment": segment_cli, "classify": classify_cli, "detect": detect_cli}
REQUIRED = {"segment": ["--data", "d", "--labels", "1:brain", "--out", "m.pt"],
            "classify": ["--data", "d.csv", "--out", "m.pt"], "detect": ["--data", "d.csv", "--out", "m.pt"]}


def train_parser(task: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    CLIS[task].add_parser(parser.add_subparsers())
    parser.parse_args([task, "train", *REQUIRED[task]])   # the subcommand's options are added when it is chosen
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    actions = next(a for a in sub.choices[task]._actions if isinstance(a, argparse._SubParsersAction))
    return actions.choices["train"]


@pytest.mark.parametrize("task,epochs,lr,batch", [("segment", 100, 3e-3, 2), ("classify", 30, 1e-3, 16),
                                                  ("detect", 10, 3e-4, 4)])
def test_every_train_command_takes_the_shared_options(task, epochs, lr, batch):
    parse = build_parser().parse_args
    default = training_config(vars(parse([task, "train", *REQUIRED[task]])), task, metric=None)
    assert (default.epochs, default.lr, default.batch_size) == (epochs, lr, batch)
    assert default.num_workers is None and default.amp and default.monitor == "loss" and default.mode == "min"
    args = parse([task, "train", *REQUIRED[task], "--workers", "3", "--no-amp", "--grad-clip", "5", "--seed", "7",
                  "--device", "cpu", "--warmup-epochs", "2", "--val-every", "2", "--nesterov", "--momentum", "0.5"])
    config = training_config(vars(args), task, metric="auc")
    assert (config.num_workers, config.amp, config.grad_clip, config.seed, config.device, config.warmup_epochs,
            config.val_every, config.nesterov, config.momentum) == (3, False, 5.0, 7, "cpu", 2, 2, True, 0.5)
    assert (config.monitor, config.mode) == ("auc", "max")


@pytest.mark.parametrize("task", sorted(CLIS))
def test_the_command_line_and_the_job_schema_derive_from_the_declarations(task):
    actions = {a.dest: a for a in train_parser(task)._actions}
    for option in OPTIONS:
        action = actions[option.name]
        assert option.flag in action.option_strings and action.default == defaults(task)[option.name], option
        assert (action.choices or ()) == option.choices, option
        assert action.type in (option.type, None) and (action.type is None) == (option.type is bool), option
    restated = [a.option_strings for a in actions.values() if a.container.title != "training"
                and ({a.dest} | {s.lstrip("-").replace("-", "_") for s in a.option_strings}) & set(DEFAULTS)]
    assert restated == [], f"gd {task} train restates shared training options outside the training group"
    schema = KINDS[f"{task}.train"].options
    assert {name: schema[name] for name in JOB_TYPES} == JOB_TYPES


def test_the_declarations_hold_together():
    assert set(DEFAULTS) == {o.name for o in OPTIONS} and DEFAULTS == {o.name: getattr(TrainConfig(), o.name)
                                                                       for o in OPTIONS}
    assert set(TASK_DEFAULTS) == set(CLIS) and all(set(d) <= set(DEFAULTS) for d in TASK_DEFAULTS.values())
    assert JOB_TYPES["seed"] == (int, type(None)) and JOB_TYPES["lr"] == (float,) and JOB_TYPES["amp"] == (bool,)
    device = next(o for o in OPTIONS if o.name == "device")
    assert all(name in device.help for name in DEVICES)
    assert not {"monitor", "mode", "channels_last", "compile"} & set(DEFAULTS)   # the task's or code's to set


def test_a_job_gets_its_tasks_defaults_and_its_own_options():
    config = training_config({"epochs": 3, "seed": None, "network": "unet", "data": "cases"}, "detect", "cpm")
    assert (config.epochs, config.seed, config.lr, config.grad_clip, config.batch_size) == (3, None, 3e-4, 10.0, 4)
    assert (config.monitor, config.mode) == ("cpm", "max")


def test_the_options_import_without_torch():
    code = ("import sys; sys.modules.update(torch=None, torchvision=None, monai=None)\n"
            "from gdbackend.train.options import OPTIMIZERS, defaults\n"
            "print(OPTIMIZERS, defaults('segment')['epochs'])")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "100" in out.stdout, out.stderr[-2000:]
