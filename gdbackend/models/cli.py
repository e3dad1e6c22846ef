"""`gd models list|fetch|import`: the model registry and the local cache from the command line."""
from __future__ import annotations

import argparse
import json

from ..progress import ProgressBar
from .cache import cached, fetch, import_model
from .registry import TASKS, cache_dir, find, read_registry


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="pretrained models: list, download (checked), import a local file")
    actions = p.add_subparsers(dest="action", required=True)
    ls = actions.add_parser("list", help="models in the registry and in the cache")
    ls.add_argument("--registry", help="a models.json file (default: the extension's, or $GDIMAGING_MODELS)")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(run=run_list)
    f = actions.add_parser("fetch", help="download a registry model into the cache, checking its sha256")
    f.add_argument("name")
    f.add_argument("--registry")
    f.set_defaults(run=run_fetch)
    i = actions.add_parser("import", help="copy a local GDImaging model file into the cache")
    i.add_argument("file")
    i.add_argument("--name", help="name in the cache (default: the file name)")
    i.add_argument("--task", choices=TASKS, help="refuse the file unless it is a model of this task")
    i.set_defaults(run=run_import)


def run_list(args: argparse.Namespace) -> int:
    entries = read_registry(args.registry)
    files = cached()
    if args.json:
        print(json.dumps({"registry": [e.__dict__ | {"labels": list(e.labels)} for e in entries],
                          "cache": [str(p) for p in files]}))
        return 0
    for e in entries:
        print(f"{e.name:24} {e.task:9} {e.size / 1e6:8.1f} MB  {e.licence:12} {e.description}")
    print(f"{len(entries)} model(s) in the registry; {len(files)} in the cache {cache_dir()}")
    for path in files:
        print(f"  {path.name}")
    return 0


def run_fetch(args: argparse.Namespace) -> int:
    entry = find(args.name, args.registry)
    bar = ProgressBar(entry.size, label=entry.name)
    print(fetch(entry, progress=lambda done, total: bar.update(done)))
    return 0


def run_import(args: argparse.Namespace) -> int:
    print(import_model(args.file, args.name, args.task))
    return 0
