"""`gd detect train|predict|evaluate`: lesion detection on volumes (Faster R-CNN, RetinaNet, FCOS on 2.5D slices;
MONAI's RetinaNet or a U-Net's lesion regions on whole 3D volumes; MONAI Model Zoo detection bundles), boxes in
LPS mm."""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from ..cli import IMAGE_HELP, add_deferred_subcommands
from ..errors import InputError
from ..progress import ProgressBar
from ..train.options import add_training_options, training_config
from .architectures import ALL_ARCHITECTURES

if TYPE_CHECKING:
    from ..volume import Volume

# torch, torchvision, MONAI and SimpleITK load in the functions below that use them, when their subcommand runs:
# `gd detect --help` and parsing a command's arguments go without them


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("detect", help="lesion detection (2.5D slices or whole 3D volumes, 3D boxes in LPS mm)")
    add_deferred_subcommands(p, "action", {
        "train": ("train a detector on volumes with label maps or box lists", _train_parser),
        "predict": ("detect lesions and write their boxes", _predict_parser),
        "evaluate": ("FROC sensitivities and mAP on volumes with known lesions", _evaluate_parser)})


def _train_parser(t: argparse.ArgumentParser) -> None:
    t.add_argument("--data", required=True, help="CSV with columns image[,label] (label maps: a lesion per component)")
    t.add_argument("--boxes", help="CSV (image,x0,y0,z0,x1,y1,z1) or JSON box list, when --data has no label column")
    t.add_argument("--val", help="CSV of validation volumes (same form as --data)")
    t.add_argument("--val-boxes", help="box list of the validation volumes")
    t.add_argument("--out", required=True, help="model file (.pt); the latest state goes to NAME.last.pt")
    t.add_argument("--architecture", default="resnet50_fpn", choices=ALL_ARCHITECTURES,
                   help="2.5D: Faster R-CNN (resnet18_fpn, ...), retinanet_*, fcos_*; 3D: retinanet3d, unet3d")
    t.add_argument("--weights", help="optional local weights file (e.g. torchvision's), loaded where shapes fit")
    t.add_argument("--spacing", type=float, nargs=3, help="model spacing x y z (mm; default 1 1 2, 3D: 2 2 2)")
    t.add_argument("--size", type=int, help="2.5D slice size in pixels (default: covers the widest training volume)")
    t.add_argument("--patch-size", type=int, nargs=3,
                   help="3D: training patch and sliding-window size in voxels (retinanet3d: 64 64 64, multiples "
                        "of 16; unet3d: 32 32 32, multiples of 8)")
    t.add_argument("--patches-per-volume", type=int,
                   help="3D: random patches per volume and epoch (retinanet3d: 4, unet3d: 16)")
    t.add_argument("--normalisation", default="percentile")
    t.add_argument("--negative-ratio", type=float, help="2.5D: lesion-free slices per lesion slice (default 0.5)")
    t.add_argument("--crop", type=int, help="2.5D: train on crops of this many pixels around lesions (multiple of 32)")
    t.add_argument("--min-size", type=float, default=0.0, help="validation ignores lesions smaller than this (mm)")
    t.add_argument("--no-augment", action="store_true")
    add_training_options(t, "detect")
    t.add_argument("--resume", help="a NAME.last.pt to continue from")
    t.add_argument("--json", action="store_true", help="print one JSON summary line")
    t.set_defaults(run=run_train)


def _predict_parser(q: argparse.ArgumentParser) -> None:
    q.add_argument("--model", required=True, help="model file, registry name or MONAI detection bundle folder")
    q.add_argument("images", nargs="+", help=f"one or more, each {IMAGE_HELP}")
    q.add_argument("--out", required=True, help="box list: .json, or .csv (image,x0,y0,z0,x1,y1,z1,score)")
    q.add_argument("--min-score", type=float, default=0.0, help="drop boxes scored below this")
    q.add_argument("--device", default="auto")
    _add_trust(q)
    q.add_argument("--json", action="store_true")
    q.set_defaults(run=run_predict)


def _evaluate_parser(e: argparse.ArgumentParser) -> None:
    e.add_argument("--model", required=True)
    e.add_argument("--data", required=True)
    e.add_argument("--boxes", help="box list, when --data has no label column")
    e.add_argument("--min-size", type=float, default=0.0, help="ignore lesions smaller than this (mm)")
    e.add_argument("--hit-iou", type=float, default=0.1, help="3D IoU at which a detection hits a lesion (FROC)")
    e.add_argument("--out", help="write the detections here (.json or .csv)")
    e.add_argument("--device", default="auto")
    _add_trust(e)
    e.add_argument("--json", action="store_true")
    e.set_defaults(run=run_evaluate)


def _add_trust(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--trust-bundle", action="store_true", help="run this MONAI bundle's own code (its "
                        "scripts/, expressions beyond simple ones); asked once per bundle, remembered until its "
                        "files change")


def run_train(args: argparse.Namespace) -> int:
    from ..train import Event
    from .data import read_cases
    from .registry import check_options, pipeline_for, train_detector
    options = {"spacing": args.spacing, "size": args.size, "crop": args.crop, "negative_ratio": args.negative_ratio,
               "patch_size": args.patch_size, "patches_per_volume": args.patches_per_volume, "weights": args.weights}
    check_options(args.architecture, **options)
    train = read_cases(args.data, args.boxes)
    val = read_cases(args.val, args.val_boxes) if args.val else []
    config = training_config(vars(args), "detect", "cpm" if val else None)
    bar = ProgressBar(1, "detect train")

    def on_event(e: Event) -> None:
        bar.total = max(e.steps, 1)
        if e.kind == "step":
            bar.update(e.step, f"epoch {e.epoch} loss {e.loss:.4f}")

    result, card = train_detector(train, val, config, args.out, architecture=args.architecture, **options,
                                  normalisation=args.normalisation, augment=not args.no_augment,
                                  min_size_mm=args.min_size, resume=args.resume, on_event=on_event)
    bar.close()
    shape = pipeline_for(card=card).summary(card)
    summary = {"model": str(args.out), "epochs": len(result.history), "best": result.best,
               "losses": [round(h["loss"], 5) for h in result.history], "seconds": round(result.seconds, 1), **shape}
    print(json.dumps(summary) if args.json else f"trained {args.architecture}: best {result.best} -> {args.out}")
    return 0


def _detect_all(model, card: dict, images: list[tuple[str, Volume]], label: str) -> dict:
    from .registry import detect_volume
    bar = ProgressBar(len(images), label)
    found = {}
    for n, (name, image) in enumerate(images, start=1):
        found[name] = detect_volume(model, card, image)
        bar.update(n)
    bar.close()
    return found


def run_predict(args: argparse.Namespace) -> int:
    if not str(args.out).lower().endswith((".json", ".csv")):
        raise InputError(f"--out {args.out} must end in .json or .csv.")
    from ..volume import Volume
    from .box_lists import write_boxes
    from .registry import load_detector
    model, card = load_detector(args.model, args.device, args.trust_bundle)
    images = [(p, Volume.read(p)) for p in args.images]
    found = _detect_all(model, card, images, "detect")
    found = {k: (b[s >= args.min_score], s[s >= args.min_score]) for k, (b, s) in found.items()}
    write_boxes(args.out, {Path(k).name: v for k, v in found.items()})
    summary = {Path(k).name: len(s) for k, (_, s) in found.items()}
    print(json.dumps({"out": str(args.out), "boxes": summary}) if args.json else f"{summary} boxes -> {args.out}")
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from .box_lists import write_boxes
    from .data import read_cases, truth_boxes
    from .metrics import detection_metrics, smaller_than
    from .registry import load_detector
    model, card = load_detector(args.model, args.device, args.trust_bundle)
    cases = read_cases(args.data, args.boxes)
    found = _detect_all(model, card, [(c.name, c.image) for c in cases], "evaluate")
    truths = [truth_boxes(c) for c in cases]
    ignore = smaller_than(truths, args.min_size)
    metrics = detection_metrics([found[c.name] for c in cases], truths, args.hit_iou, ignore)
    if args.out:
        write_boxes(args.out, found)
    print(json.dumps(metrics) if args.json else "\n".join(f"{k}: {v:.4f}" for k, v in metrics.items()))
    return 0
