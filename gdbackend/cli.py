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
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:   # under torchrun
        from .train.distributed import exit_launched
        exit_launched(code)
    return code


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
