"""The registration options are declared once (gdbackend.register.options): `gd register`, the register job's
schema, `register()` and the GD Register panel take exactly those options, defaults and choices; the progress
total is the iterations the schedule runs; and the declarations, `gd --help`, `gd segment|classify|detect --help`,
parsing a detect command and the job process start without torch."""
from __future__ import annotations

import argparse
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from gdbackend.cli import COMMANDS, build_parser
from gdbackend.errors import InputError
from gdbackend.jobs import KINDS
from gdbackend.register import cli as register_cli
from gdbackend.register.options import (
    DEFAULTS,
    JOB_TYPES,
    METRICS,
    OPTIMIZERS,
    OPTIONS,
    REFINE_STEPS,
    RegistrationOptions,
)

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "torchvision", "monai", "SimpleITK")


def register_parser() -> argparse.ArgumentParser:
    sub = argparse.ArgumentParser().add_subparsers()
    register_cli.add_parser(sub)
    return sub.choices["register"]


def test_the_command_line_takes_every_option_with_its_default_and_choices():
    actions = {a.dest: a for a in register_parser()._actions}
    for o in OPTIONS.values():
        action = actions[o.name]
        default = ",".join(o.default) if o.name == "transform" else o.default
        # absent unless given (a preset's values are not overridden by defaults); the help says the default
        assert set(o.flags) <= set(action.option_strings) and action.default == argparse.SUPPRESS, o
        assert tuple(action.choices or ()) == o.choices and o.help in action.help, o
        assert o.types[0] is bool or f"(default: {'none' if default is None else default})" in action.help, o
    restated = [a.dest for a in actions.values() if a.container.title != "registration" and a.dest in DEFAULTS]
    assert restated == []
    args = build_parser().parse_args(["register", "f.nii", "m.nii", "--output-transform", "t.tfm", "--init", "none",
                                      "--iterations", "5", "--transform", "rigid,affine", "--diffeomorphic"])
    options = register_cli._options(args)
    assert options.initialize == "none" and options.schedule("rigid") == [5, 5, 5]
    assert register_cli._options(build_parser().parse_args(["register", "f", "m", "--output-transform", "t"])) \
        == RegistrationOptions()
    assert options.stages == ("rigid", "affine") and options.diffeomorphic
    assert options.total_iterations() == 30 + 2 * REFINE_STEPS   # each linear stage's Gauss-Newton steps


def test_the_job_schema_is_the_options():
    assert KINDS["register"].options == JOB_TYPES and set(JOB_TYPES) == set(DEFAULTS)
    assert JOB_TYPES["iterations"] == (int, list, type(None)) and JOB_TYPES["transform"] == (str, list)


def test_the_panel_offers_the_options_choices_and_defaults():
    from slicer_double import load
    panel = load("GDRegister")
    defaults = panel.GDRegisterLogic().getParameterNode()
    for name in ("metric", "optimizer", "levels", "device"):
        assert getattr(defaults, name) == DEFAULTS[name], name
    assert panel.METRICS == METRICS and panel.OPTIMIZERS == OPTIMIZERS
    for transform in panel.TRANSFORMS:
        RegistrationOptions.from_values({"transform": transform})
    from gdbackend.device import DEVICES
    assert set(panel.DEVICES) <= set(DEVICES)


def test_the_default_schedule_and_the_checks():
    options = RegistrationOptions()
    assert options.schedule("affine") == [150, 150, 50] and options.total_iterations() == 350 + REFINE_STEPS
    assert RegistrationOptions(metric="mi").schedule("affine") == [150, 150, 400]   # no Gauss-Newton steps for mi
    assert options.schedule("bspline") == [300, 200, 200] and RegistrationOptions(levels=1).schedule("dense") == [300]
    assert RegistrationOptions(transform="rigid,affine,bspline").total_iterations() == 1400 + 2 * REFINE_STEPS
    assert RegistrationOptions(levels=2, iterations=(40, 10)).schedule("dense") == [40, 10]
    assert RegistrationOptions(iterations=7, transform=["rigid", "bspline"]).total_iterations() == 42 + REFINE_STEPS
    for bad, message in [({"transform": "warp"}, "Unknown transform"), ({"metric": "cc"}, "Unknown metric"),
                         ({"optimizer": "lbfgs"}, "Unknown optimizer"), ({"levels": 0}, "levels must be"),
                         ({"iterations": [10, 10]}, "one per level"), ({"iterations": 0}, "positive"),
                         ({"samples": -1}, "samples must be"), ({"tolerance": -1.0}, "tolerance must be"),
                         ({"transform": "bspline,affine"}, "last one"), ({"speed": 3}, r"Unknown registration option")]:
        with pytest.raises(InputError, match=message):
            RegistrationOptions.from_values(bad)
    assert all(o.help and o.name in RegistrationOptions.__doc__ for o in OPTIONS.values())


def test_the_progress_total_is_the_iterations_run():
    from gdbackend.register import register
    from gdbackend.register import sample as cases
    fixed, moving = cases.pair_2d("A")
    events = []
    result = register(fixed, moving, "translation", levels=2, iterations=[13, 7], tolerance=0.0,
                      progress=events.append)
    assert result.iterations == len(events) == RegistrationOptions(levels=2, iterations=(13, 7)).total_iterations()
    assert [e["done"] for e in events] == [e["step"] for e in events] == list(range(1, 21 + REFINE_STEPS))
    early = []
    register(fixed, moving, "translation", levels=2, iterations=[400, 50], tolerance=1e-2, progress=early.append)
    finer = [e for e in early if e["level"] == 1]
    assert len(early) - len(finer) < 400 and finer[0]["done"] == 401   # the coarse level stopped early
    assert all(e["steps"] == 450 + REFINE_STEPS for e in early)
    assert [e["step"] for e in early] == list(range(1, len(early) + 1))
    assert early[-1]["done"] == early[-1]["steps"]      # a level that stops early ends its share of the total


def test_a_job_without_iterations_reports_its_schedule_to_the_end(tmp_path):
    from gdbackend.job import run_spec
    from gdbackend.sample_data import itk_example
    options = {"transform": "translation", "levels": 2, "tolerance": 0.0, "device": "cpu"}
    spec = {"kind": "register", "options": options, "outputs": {"transform": str(tmp_path / "t.tfm")},
            "inputs": {k: str(itk_example(n)) for k, n in (("fixed", "BrainProtonDensitySliceBorder20.png"),
                                                           ("moving", "BrainProtonDensitySliceShifted13x17y.png"))}}
    events = []
    done = run_spec(spec, events.append)
    total = RegistrationOptions.from_values(options).total_iterations()
    assert done["summary"]["iterations"] == total == 150 + 50 + REFINE_STEPS
    assert events[-1]["fraction"] == 1.0 and events[-1]["step"] == total


def test_threads_are_sized_to_the_work():
    import torch

    from gdbackend.register.threads import POINTS_PER_THREAD, sized_threads, threads_for
    assert threads_for(POINTS_PER_THREAD - 1, 16) == 1 and threads_for(2 * POINTS_PER_THREAD, 16) == 2
    assert threads_for(100 * POINTS_PER_THREAD, 2) == 2
    before = torch.get_num_threads()
    with sized_threads(POINTS_PER_THREAD, torch.device("cpu")):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_each_command_gives_the_help_gd_shows_for_it():
    for name, (module, help) in COMMANDS.items():
        sub = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(module).add_parser(sub)
        assert [a.help for a in sub._choices_actions] == [help], name


@pytest.mark.parametrize("code", [
    "import gdbackend.cli; gdbackend.cli.build_parser()",
    "from gdbackend.cli import build_parser; build_parser().parse_args(['register', 'a', 'b', '--output-transform', "
    "'t.tfm'])",
    "import gdbackend.job, gdbackend.jobs.register",
    "from gdbackend.register import RegistrationOptions, TRANSFORMS",
    *(f"import contextlib, io\nfrom gdbackend.cli import build_parser\nwith contextlib.redirect_stdout(io.StringIO()), "
      f"contextlib.suppress(SystemExit):\n    build_parser().parse_args({argv!r})"
      for argv in (["segment", "--help"], ["classify", "--help"],
                   ["classify", "predict", "-h"], ["classify", "evaluate", "-h"], ["detect", "--help"],
                   ["detect", "train", "-h"], ["detect", "predict", "-h"], ["detect", "evaluate", "-h"])),
    "from gdbackend.cli import build_parser\nargs = build_parser().parse_args(['detect', 'train', '--data', 'd.csv', "
    "'--out', 'm.pt', '--architecture', 'retinanet3d', '--patch-size', '32', '32', '32'])\n"
    "assert (args.architecture, args.patch_size, args.run.__name__) == ('retinanet3d', [32, 32, 32], 'run_train')",
    "import gdbackend.detect\nassert gdbackend.detect.DEFAULT_ARCHITECTURE in gdbackend.detect.ALL_ARCHITECTURES",
])
def test_commands_options_and_the_job_runner_start_without_torch(code):
    check = f"import sys\n{code}\nprint(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", check], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stdout + out.stderr[-2000:]


def test_detect_offers_the_architectures_its_pipelines_train():
    """`gd detect train --architecture` offers the torch-free list (gdbackend.detect.architectures): exactly the
    names the pipelines train, in their order."""
    from gdbackend.detect.architectures import ALL_ARCHITECTURES
    from gdbackend.detect.registry import PIPELINES
    assert ALL_ARCHITECTURES == tuple(a for p in PIPELINES for a in p.architectures)
