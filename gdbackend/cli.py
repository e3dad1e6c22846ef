"""`gd`: the command line of every capability. Each subcommand lives beside its capability and registers
itself through an `add_parser(subparsers)` function in the module COMMANDS names; that module is imported
only when its command is chosen, so `gd --help` (and a command) loads no other capability's libraries."""
from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from collections.abc import Callable

from .errors import GDError

# command -> (its module, the one line `gd --help` shows for it, as the module's add_parser gives it)
COMMANDS: dict[str, tuple[str, str]] = {
    "register": ("gdbackend.register.cli", "gradient-descent image registration"),
    "segment": ("gdbackend.segment.cli", "U-Net segmentation: train, predict, evaluate"),
    "classify": ("gdbackend.classify.cli", "ResNet image classification (whole image or region of interest)"),
    "detect": ("gdbackend.detect.cli", "lesion detection (2.5D slices or whole 3D volumes, 3D boxes in LPS mm)"),
    "models": ("gdbackend.models.cli", "pretrained models: list, download (checked), import a local file"),
    "export": ("gdbackend.export", "export a segmentation/classification model with torch.export or to ONNX"),
    "demo": ("gdbackend.demo", "run the demo on the sample data and write a report"),
    "server": ("gdbackend.server", "keep torch imported in a background process so gd commands start at once"),
}
# what an image argument takes (Volume.read): one wording for every command's help
IMAGE_HELP = ("an image file (NIfTI, NRRD, MHA, PNG, a DICOM file) or a DICOM series: its folder, or FOLDER/UID to "
              "choose one series of a folder that holds several")


class _Commands(argparse._SubParsersAction):
    """Subcommands whose parsers are filled in when the command is chosen."""

    pending: dict[str, Callable[[argparse.ArgumentParser], None]]   # command -> what fills its parser, not run yet

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        fill = self.pending.pop(values[0], None)
        if fill is not None:
            fill(self.choices[values[0]])
        super().__call__(parser, namespace, values, option_string)


def add_deferred_subcommands(parser: argparse.ArgumentParser, dest: str,
                             commands: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None]]]) -> None:
    """Subcommands listed at once by name and help, each parser filled in by its function only when chosen: a
    --help then loads none of the libraries that its subcommands' options come from.

    Args:
        parser: the parser the subcommands belong to.
        dest: the attribute of the parsed arguments that holds the chosen subcommand's name.
        commands: name -> (the one line of help shown for it, the function that adds its arguments).
    """
    parser.register("action", "parsers", _Commands)
    sub = parser.add_subparsers(dest=dest, required=True)
    sub.pending = {name: fill for name, (_, fill) in commands.items()}
    for name, (help, _) in commands.items():
        sub.add_parser(name, help=help)


class _Into:
    """The `subparsers` a module's add_parser is given: its add_parser(name, ...) returns the placeholder
    parser of that command, with the module's settings (description, formatter, ...)."""

    def __init__(self, parser: argparse.ArgumentParser) -> None:
        self.parser = parser

    def add_parser(self, name: str, help: str = "", **settings) -> argparse.ArgumentParser:
        for key, value in settings.items():
            setattr(self.parser, key, value)
        return self.parser


def _fill_from(module: str) -> Callable[[argparse.ArgumentParser], None]:
    return lambda parser: importlib.import_module(module).add_parser(_Into(parser))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gd", description="GDImaging: gradient-descent medical image analysis.")
    add_deferred_subcommands(parser, "command",
                             {name: (help, _fill_from(module)) for name, (module, help) in COMMANDS.items()})
    return parser


def main(argv: list[str] | None = None) -> int:
    """The `gd` program. Run as the program (no `argv`), a command is handed to a running `gd server` when there is
    one (gdbackend.server); called with `argv` (tests, scripts), it always runs here."""
    if argv is None and sys.argv[1:2] and sys.argv[1] in COMMANDS and sys.argv[1] != "server":
        from .server import delegate
        code = delegate(sys.argv[1:])
        if code is not None:
            return code
    return run_local(argv)


def run_local(argv: list[str] | None = None) -> int:
    """Parse and run a `gd` command in this process; its exit code."""
    args = build_parser().parse_args(argv)
    code = _run(args)
    exit_launched(code)
    return code


def exit_launched(code: int) -> None:
    """End a process that `torchrun` started at once, skipping the interpreter's teardown: after
    DistributedDataParallel, gloo's threads outlive destroy_process_group (torch 2.14; DDP's construction alone
    does it), and the teardown then sometimes aborts on them (SIGABRT in about 1 of 20 runs of the DDP test),
    which torchrun reports as a failed run though every result was written."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _run(args: argparse.Namespace) -> int:
    try:
        return int(args.run(args) or 0)
    except GDError as e:
        if getattr(args, "json", False):
            print(json.dumps({"error": str(e), "type": type(e).__name__}))
        print(f"gd {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"gd {args.command}: cancelled", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
