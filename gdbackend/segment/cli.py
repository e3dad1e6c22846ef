"""`gd segment train|predict|evaluate`: U-Net segmentation from the command line, on files."""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from ..cli import IMAGE_HELP, add_deferred_subcommands
from ..errors import InputError
from ..progress import ProgressBar
from ..resources import MODEL_BYTES, check_output, make_output_folder
from ..train.options import add_training_options, training_config

# torch, MONAI and SimpleITK load in the functions below that use them, when their subcommand is chosen: `gd
# segment --help` lists the subcommands without them


def _sizes(text: str | None, kind=float) -> tuple | None:
    """"2" or "2,2,3" -> (2.0,) or (2.0, 2.0, 3.0); the caller repeats one value over the image's axes."""
    if not text:
        return None
    try:
        values = tuple(kind(v) for v in text.split(","))
    except ValueError:
        raise InputError(f"Cannot read {text!r} as comma-separated numbers, e.g. 96 or 96,96,64.") from None
    if any(v <= 0 for v in values):
        raise InputError(f"Sizes must be positive, got {text!r}.")
    return values


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("segment", help="U-Net segmentation: train, predict, evaluate")
    add_deferred_subcommands(p, "action", {
        "train": ("train a segmentation model on image/label pairs", _train_parser),
        "predict": ("segment images with a trained model", _predict_parser),
        "evaluate": ("segment labelled cases and report Dice, IoU and HD95", _evaluate_parser)})


def _train_parser(t: argparse.ArgumentParser) -> None:
    from .losses import LOSSES
    from .networks import DEFAULTS
    t.add_argument("--data", required=True, help="folder with images/ and labels/, or a CSV with columns image,label")
    t.add_argument("--labels", help='label values and names, e.g. "1:brain,2:tumour[:#RRGGBB]"; Slicer segmentations '
                   "(.seg.nrrd) are matched to them by segment name (none: the segments the .seg.nrrd files name, "
                   "numbered 1, 2, ... in order)")
    t.add_argument("--out", required=True, help="model file (.pt); the latest state goes to MODEL.last.pt")
    t.add_argument("--network", default="unet", choices=sorted(DEFAULTS))
    t.add_argument("--network-args", help='MONAI arguments of the network as JSON, e.g. \'{"channels": [8, 16, 32]}\'')
    t.add_argument("--patch", help="patch size in voxels, one value or one per axis (default 96, 2D: 256)")
    t.add_argument("--spacing", help="model voxel spacing in mm, one value or one per axis (default: median)")
    t.add_argument("--normalisation", default="percentile", help="percentile | zscore | ct:LOW,HIGH")
    t.add_argument("--loss", default="dicece", choices=LOSSES)
    t.add_argument("--samples-per-case", type=int, default=4, help="random patches per case and epoch")
    t.add_argument("--val-fraction", type=float, default=0.2, help="share of cases kept for validation (0: none)")
    t.add_argument("--no-augment", action="store_true")
    add_training_options(t, "segment")
    t.add_argument("--resume", action="store_true", help="continue from MODEL.last.pt")
    t.add_argument("--json", action="store_true", help="print one JSON summary line")
    t.set_defaults(run=run_train)


def _predict_parser(pr: argparse.ArgumentParser) -> None:
    pr.add_argument("images", nargs="+", help=f"one per case, each {IMAGE_HELP}; a case of several channels (e.g. MR "
                    "sequences) as one argument with its files in the model's channel order, joined by commas")
    pr.add_argument("--model", required=True)
    pr.add_argument("--out", required=True, help="folder for the label maps (NAME.nii.gz or NAME.seg.nrrd)")
    pr.add_argument("--format", choices=("nii.gz", "seg.nrrd"), default="nii.gz",
                    help="label maps (nii.gz), or Slicer segmentations (seg.nrrd) that open in Slicer with each "
                         "label's name and colour")
    _inference_options(pr)
    pr.set_defaults(run=run_predict)


def _evaluate_parser(ev: argparse.ArgumentParser) -> None:
    ev.add_argument("--model", required=True)
    ev.add_argument("--data", required=True, help="folder with images/ and labels/, or a CSV with columns image,label")
    ev.add_argument("--csv", help="write one row of metrics per case (and a mean row) here")
    _inference_options(ev)
    ev.set_defaults(run=run_evaluate)


def _inference_options(p: argparse.ArgumentParser) -> None:
    from ..device import DEVICES
    p.add_argument("--flips", action="store_true", help="average with the left-right flipped prediction")
    p.add_argument("--largest-component", action="store_true", help="keep each label's largest connected part")
    p.add_argument("--overlap", type=float, help="sliding-window overlap (0-1; default: 0.5, or a MONAI "
                   "bundle's own setting)")
    p.add_argument("--trust-bundle", action="store_true", help="run this MONAI bundle's own code (its scripts/, "
                   "expressions such as torch.load); asked once per bundle, remembered until its files change")
    p.add_argument("--device", default="auto", choices=DEVICES)
    p.add_argument("--json", action="store_true", help="print one JSON summary line")


def _network_args(text: str | None) -> dict | None:
    if not text:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"--network-args is not valid JSON ({e.msg}): "
                         "write e.g. '{\"channels\": [8, 16, 32]}'.") from None
    if not isinstance(value, dict):
        raise InputError("--network-args must be a JSON object of argument names and values.")
    return value


def run_train(args: argparse.Namespace) -> int:
    from ..train import Event, last_path
    from .data import labels_from_files, load_cases, split
    from .labels import parse_labels
    from .train import train_segmentation
    check_output(args.out, 2 * MODEL_BYTES, "model")  # MODEL.pt and MODEL.last.pt, before hours of training
    labels = parse_labels(args.labels) if args.labels else labels_from_files(args.data)
    overrides = _network_args(args.network_args)
    patch, spacing = _sizes(args.patch, int), _sizes(args.spacing)
    cases = load_cases(args.data, labels)
    train_cases, val_cases = split(cases, args.val_fraction, args.seed)
    config = training_config(vars(args), "segment", "dice" if val_cases else None)
    bar = ProgressBar(1, "segment train")

    def on_event(e: Event) -> None:
        bar.total = max(e.steps, 1)
        dice = e.metrics.get("dice")
        bar.update(e.step, f"epoch {e.epoch}/{e.epochs} loss {e.loss or 0:.4f}" + (f" dice {dice:.3f}" if dice else ""))

    resume = last_path(args.out) if args.resume else None
    result, card = train_segmentation(
        train_cases, val_cases, labels, config, args.out, network=args.network, network_overrides=overrides,
        patch=patch, spacing=spacing, normalisation=args.normalisation, loss=args.loss,
        samples_per_case=args.samples_per_case, augment=not args.no_augment, resume=resume, on_event=on_event)
    bar.close()
    summary = {"model": str(args.out), "epochs": len(result.history), "train_cases": len(train_cases),
               "val_cases": len(val_cases), "final_loss": result.history[-1]["loss"],
               "best": result.best, "stopped_early": result.stopped_early, "seconds": round(result.seconds, 1)}
    print(json.dumps(summary) if args.json else
          f"trained {summary['epochs']} epochs in {summary['seconds']} s, loss {summary['final_loss']:.4f}"
          f"{', best validation dice %.4f' % result.best['dice'] if 'dice' in result.best else ''} -> {args.out}")
    return 0




def run_predict(args: argparse.Namespace) -> int:
    from ..segmentation_file import write_segmentation
    from ..volume import Volume, image_stem
    from .inference import load_model, predict
    cases = [[Path(p) for p in arg.split(",")] for arg in args.images]
    out = Path(args.out)
    images = [[Volume.read(p) for p in case] for case in cases]   # every file is read (and refused) before any work
    make_output_folder(out, sum(2 * case[0].array.size for case in images), "label maps")  # uint16, uncompressed
    model, card = load_model(args.model, args.device, args.trust_bundle)
    bar = ProgressBar(len(cases), "segment predict")
    written = []
    for k, (paths, channels) in enumerate(zip(cases, images)):
        label = predict(model, card, channels, args.flips, args.largest_component, args.overlap, _report, paths)
        path = out / f"{image_stem(paths[0])}.{args.format}"
        written.append(str(write_segmentation(label, card["labels"], path) if args.format == "seg.nrrd"
                           else label.write(path)))
        bar.update(k + 1, paths[0].name)
    bar.close()
    print(json.dumps({"model": str(args.model), "outputs": written}) if args.json else
          f"wrote {len(written)} label map(s) to {out}")
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from .data import check_case, load_cases
    from .inference import load_model, predict
    from .metrics import evaluate, write_csv
    if args.csv:
        check_output(args.csv, 0, "CSV")
    model, card = load_model(args.model, args.device, args.trust_bundle)
    cases = load_cases(args.data, card["labels"])
    for case in cases:   # every case is checked before the model runs
        check_case(case, card["labels"])
    bar = ProgressBar(len(cases), "segment evaluate")
    rows = []
    for k, case in enumerate(cases):
        label = predict(model, card, case.image, args.flips, args.largest_component, args.overlap, _report)
        rows.append({"case": case.name, **evaluate(label, case.label, card["labels"])})
        bar.update(k + 1, case.name)
    bar.close()
    metrics = [m for m in rows[0] if m != "case"]
    mean = {m: _nanmean([r[m] for r in rows]) for m in metrics}
    if args.csv:
        write_csv([*rows, {"case": "mean", **mean}], args.csv)
    if args.json:
        print(json.dumps({"model": str(args.model), "cases": len(rows), "mean": mean, "per_case": rows}))
    else:
        for r in [*rows, {"case": "mean", **mean}]:
            print(f"{r['case']}: dice {r['dice']:.4f}  iou {r['iou']:.4f}  hd95 {r['hd95']:.2f} mm")
    return 0


def _report(message: str) -> None:
    print(f"gd segment: {message}", file=sys.stderr)


def _nanmean(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return sum(finite) / len(finite) if finite else float("nan")
