"""`gd classify train|predict|evaluate`: ResNet classification of images or regions of interest."""
from __future__ import annotations

import argparse
import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..cli import IMAGE_HELP, add_deferred_subcommands
from ..errors import InputError
from ..progress import ProgressBar
from ..train.options import add_training_options, training_config

if TYPE_CHECKING:
    from .data import Sample

# torch, MONAI and SimpleITK load in the functions below that use them, when their subcommand is chosen: `gd
# classify --help` lists the subcommands without them


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("classify", help="ResNet image classification (whole image or region of interest)")
    add_deferred_subcommands(p, "action", {
        "train": ("train a classifier on a CSV of path,label[,box][,mask]", _train_parser),
        "predict": ("class probabilities of images", _predict_parser),
        "evaluate": ("metrics on labelled data", _evaluate_parser)})


def _train_parser(t: argparse.ArgumentParser) -> None:
    from .networks import NETWORKS
    from .train import BALANCING
    t.add_argument("--data", required=True, help="CSV with columns path,label and optional box, mask")
    t.add_argument("--val", help="CSV of validation samples (default: --val-fraction of --data)")
    t.add_argument("--val-fraction", type=float, default=0.2)
    t.add_argument("--out", required=True, help="model file (.pt); the latest state goes to NAME.last.pt")
    t.add_argument("--network", default="resnet18", choices=tuple(NETWORKS))
    t.add_argument("--classes", help="class names in output order, comma-separated (default: sorted labels)")
    t.add_argument("--size", type=int, nargs="+", default=[32, 32, 32], help="model input size x y [z] (voxels)")
    t.add_argument("--spacing", type=float, nargs="+", help="model spacing in mm (default: the region fills --size)")
    t.add_argument("--normalisation", default="percentile")
    t.add_argument("--margin", type=float, default=0.0, help="mm added around a mask's box")
    t.add_argument("--balance", default="weights", choices=BALANCING, help="class weights or balanced sampling")
    t.add_argument("--label-smoothing", type=float, default=0.0)
    t.add_argument("--no-augment", action="store_true")
    add_training_options(t, "classify")
    t.add_argument("--resume", help="a NAME.last.pt to continue from")
    t.add_argument("--json", action="store_true", help="print one JSON summary line")
    t.set_defaults(run=run_train)


def _predict_parser(q: argparse.ArgumentParser) -> None:
    q.add_argument("--model", required=True)
    q.add_argument("images", nargs="+", help=f"one or more, each {IMAGE_HELP}")
    q.add_argument("--box", type=float, nargs="+", help="region of interest x0 y0 [z0] x1 y1 [z1], LPS mm")
    q.add_argument("--mask", help="region-of-interest mask on the image's grid")
    _model_options(q, run_predict)


def _evaluate_parser(q: argparse.ArgumentParser) -> None:
    q.add_argument("--model", required=True)
    q.add_argument("--data", required=True, help="CSV with columns path,label[,box][,mask]")
    _model_options(q, run_evaluate)


def _model_options(q: argparse.ArgumentParser, run: Callable[[argparse.Namespace], int]) -> None:
    q.add_argument("--csv", help="write one row per sample here")
    q.add_argument("--device", default="auto")
    q.add_argument("--json", action="store_true")
    q.set_defaults(run=run)


def run_train(args: argparse.Namespace) -> int:
    from ..train import Event
    from .data import read_samples, split_samples
    from .train import train_classifier
    samples = read_samples(args.data)
    train, val = (samples, read_samples(args.val)) if args.val else split_samples(samples, args.val_fraction, args.seed)
    config = training_config(vars(args), "classify", "auc" if val else None)
    bar = ProgressBar(args.epochs, "classify train")

    def on_event(e: Event) -> None:
        if e.kind == "epoch":
            bar.update(e.epoch, f"loss {e.loss:.4f}" + (f" auc {e.metrics['auc']:.3f}" if "auc" in e.metrics else ""))

    classes = [c.strip() for c in args.classes.split(",")] if args.classes else None
    result, card = train_classifier(train, val, config, args.out, network=args.network, classes=classes,
                                    size=tuple(args.size), spacing=tuple(args.spacing) if args.spacing else None,
                                    normalisation=args.normalisation, margin=args.margin, balance=args.balance,
                                    label_smoothing=args.label_smoothing, augment=not args.no_augment,
                                    resume=args.resume, on_event=on_event)
    bar.close()
    summary = {"model": str(args.out), "epochs": len(result.history), "best": result.best,
               "final_loss": result.history[-1]["loss"], "seconds": round(result.seconds, 1),
               "classes": card["classes"]}
    print(json.dumps(summary) if args.json else f"trained {args.network}: best {result.best} -> {args.out}")
    return 0


def _probabilities(args: argparse.Namespace, samples: list[Sample], model, card: dict) -> np.ndarray:
    from .predict import predict_probabilities, prepare_inputs
    bar = ProgressBar(len(samples), f"classify {args.action}")
    inputs = prepare_inputs(samples, card, bar.update)
    bar.close()
    return predict_probabilities(model, inputs)


def _write_rows(path: str | None, samples: list[Sample], probabilities: np.ndarray, classes: list[str]) -> None:
    if not path:
        return
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "label", "predicted", *(f"p_{c}" for c in classes)])
        for s, p in zip(samples, probabilities):
            w.writerow([str(s.image), s.label or "", classes[int(p.argmax())], *(f"{v:.5f}" for v in p)])


def run_predict(args: argparse.Namespace) -> int:
    from ..volume import Volume
    from .data import Sample
    from .predict import load_classifier
    if args.box and args.mask:
        raise InputError("Give --box or --mask, not both.")
    samples = [Sample(Path(p), None, np.array(args.box) if args.box else None,
                      Volume.read(args.mask) if args.mask else None) for p in args.images]
    model, card = load_classifier(args.model, args.device)
    probabilities = _probabilities(args, samples, model, card)
    _write_rows(args.csv, samples, probabilities, card["classes"])
    for s, p in zip(samples, probabilities):
        row = {"image": str(s.image), "predicted": card["classes"][int(p.argmax())],
               "probabilities": {c: round(float(v), 5) for c, v in zip(card["classes"], p)}}
        print(json.dumps(row) if args.json else f"{s.image}: {row['predicted']} {row['probabilities']}")
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from .data import read_samples
    from .metrics import classification_metrics
    from .predict import load_classifier
    samples = read_samples(args.data)
    model, card = load_classifier(args.model, args.device)
    unknown = sorted({s.label for s in samples} - set(card["classes"]))
    if unknown:
        raise InputError(f"Label(s) {', '.join(unknown)} are not classes of this model ({', '.join(card['classes'])}).")
    probabilities = _probabilities(args, samples, model, card)
    metrics = classification_metrics(probabilities, np.array([card["classes"].index(s.label) for s in samples]))
    _write_rows(args.csv, samples, probabilities, card["classes"])
    print(json.dumps(metrics) if args.json else "\n".join(f"{k}: {v}" for k, v in metrics.items()))
    return 0
