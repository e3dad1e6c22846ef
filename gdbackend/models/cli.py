"""`gd models list|fetch|import`: the model registry and the local cache from the command line."""
from __future__ import annotations

import argparse
import json
from collections.abc import Callable

from ..errors import ModelError
from ..progress import ProgressBar
from ..resources import format_bytes
from .cache import cached, cached_path, fetch, import_model
from .registry import TASKS, UNKNOWN, ModelEntry, cache_dir, find, read_registry

COLUMNS = ("name", "kind", "task", "modality", "channels", "spacing", "size", "status", "licence")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="pretrained models: list, download (checked), import a local file")
    actions = p.add_subparsers(dest="action", required=True)
    ls = actions.add_parser("list", help="models in the registry (shipped, cached or to fetch) and in the cache")
    ls.add_argument("--registry", help="a models.json file (default: the extension's, or $GDIMAGING_MODELS)")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(run=run_list)
    f = actions.add_parser("fetch", help="download a registry model (a MONAI bundle: and unpack it) into the cache, "
                           "checking its sha256 or sha1; a cached one is used without a request")
    f.add_argument("name")
    f.add_argument("--registry")
    f.set_defaults(run=run_fetch)
    i = actions.add_parser("import", help="copy a local GDImaging model file into the cache")
    i.add_argument("file")
    i.add_argument("--name", help="name in the cache (default: the file name)")
    i.add_argument("--task", choices=TASKS, help="refuse the file unless it is a model of this task")
    i.set_defaults(run=run_import)


def status(entry: ModelEntry) -> str:
    """shipped, cached, or not fetched (a damaged shipped file says so)."""
    try:
        here = cached_path(entry) is not None
    except ModelError:
        return "shipped, damaged or missing: reinstall"
    return "shipped" if entry.shipped else "cached" if here else "not fetched"


def row(entry: ModelEntry) -> dict[str, str]:
    """The entry's listing, one text per column."""
    return {"name": entry.name, "kind": entry.kind, "task": entry.task, "modality": entry.modality or "-",
            "channels": ",".join(entry.channels) or "-",
            "spacing": "x".join(f"{s:.3g}" for s in entry.spacing) + " mm" if entry.spacing else "as given",
            "size": format_bytes(entry.size) if entry.size else UNKNOWN, "licence": entry.licence,
            "status": status(entry)}


def run_list(args: argparse.Namespace) -> int:
    entries = read_registry(args.registry)
    files = cached()
    rows = [row(e) for e in entries]
    if args.json:
        listed = [{**{k: str(v) if k == "file" and v else v for k, v in vars(e).items()}, "status": r["status"]}
                  for e, r in zip(entries, rows)]
        print(json.dumps({"registry": listed, "cache": [str(p) for p in files]}))
        return 0
    widths = {c: max([len(c), *(len(r[c]) for r in rows)]) for c in COLUMNS}
    for line in [dict(zip(COLUMNS, COLUMNS)), *rows]:
        print("  ".join(line[c].ljust(widths[c]) for c in COLUMNS).rstrip())
    print(f"{len(entries)} model(s) in the registry; {len(files)} in the cache {cache_dir()}")
    for path in files:
        print(f"  {path.name}")
    return 0


def _bar(label: str, total: int | None) -> Callable[[int, int | None], None]:
    bar = ProgressBar(total or 1, label=label)

    def update(done: int, size: int | None) -> None:
        bar.total = max(size or total or done, 1)
        bar.update(done, f"{done / 1e6:.1f} MB")
    return update


def run_fetch(args: argparse.Namespace) -> int:
    entry = find(args.name, args.registry)
    print(fetch(entry, progress=_bar(entry.name, entry.size), unpack_progress=_bar(f"{entry.name} unpack", None)))
    return 0


def run_import(args: argparse.Namespace) -> int:
    print(import_model(args.file, args.name, args.task))
    return 0
