"""`gd`: the command line of every capability. Each subcommand lives beside its capability
and registers itself through an `add_parser(subparsers)` function listed in COMMANDS."""
from __future__ import annotations

import argparse
import importlib
import json
import os
import sys

from .errors import GDError

COMMANDS = (
    "gdbackend.register.cli",
    "gdbackend.segment.cli",
    "gdbackend.classify.cli",
    "gdbackend.detect.cli",
    "gdbackend.models.cli",
    "gdbackend.export",
    "gdbackend.demo",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gd", description="GDImaging: gradient-descent medical image analysis.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        importlib.import_module(name).add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
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
