"""`gd demo`: run every capability on the real sample data and write a Markdown report with PNG figures.

Each capability contributes one section through a module with
    run(out: Path, quick: bool) -> str   (Markdown; figures written under `out`)
listed in SECTIONS, so the report grows with the project without this file knowing the details.
"""
from __future__ import annotations

import argparse
import importlib
import json
import time
from pathlib import Path

from .errors import GDError

SECTIONS = (
    "gdbackend.register.demo",
    "gdbackend.segment.demo",
    "gdbackend.classify.demo",
    "gdbackend.detect.demo",
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the demo on the sample data and write a report")
    p.add_argument("--out", default="report", help="report folder (default: report)")
    p.add_argument("--full", action="store_true",
                   help="the long runs behind the README's figures (about 15 min on 2 cores; default: a few minutes)")
    p.add_argument("--only", nargs="*", default=None, help="section modules to run (default: all)")
    p.set_defaults(run=run)


def _section(name: str):
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as e:
        if not e.name or not e.name.startswith("gdbackend"):
            raise
        raise GDError("The demo runs from a source checkout of SlicerGDImaging, not from the Slicer extension "
                      "(which leaves the sample data code out): run `bash scripts/demo.sh` there.") from None


def run(args: argparse.Namespace) -> int:
    import matplotlib
    matplotlib.use("Agg")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    parts = ["# GDImaging demo report", "",
             "Every figure below was computed by `gd demo` on real images from the Debian packages "
             "`insighttoolkit5-examples` and `mricron-data`.", ""]
    timings = {}
    for name in SECTIONS:
        if args.only and not any(o in name for o in args.only):
            continue
        t0 = time.perf_counter()
        print(f"[demo] {name} ...", flush=True)
        parts.append(_section(name).run(out, not args.full))
        timings[name] = round(time.perf_counter() - t0, 1)
        print(f"[demo] {name} done in {timings[name]} s", flush=True)
    parts += ["", "## Run times (s)", "", "```", json.dumps(timings, indent=1), "```", ""]
    (out / "index.md").write_text("\n".join(parts))
    print(f"[demo] report written to {(out / 'index.md').resolve()}", flush=True)
    return 0
