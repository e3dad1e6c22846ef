"""Export a trained segmentation or classification checkpoint for use outside GDImaging: TorchScript
(always) or ONNX (when the `onnx` package is installed). In TorchScript the model card travels inside the
file (`card.json`), so the user still knows the spacing, normalisation and labels the network expects."""
from __future__ import annotations

import argparse
import importlib.util
import json
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import InputError, ModelError

if TYPE_CHECKING:   # torch is imported by the functions that use it, so that `gd --help` starts without it
    import torch

FORMATS = ("torchscript", "onnx")


def _load(path: str | Path) -> tuple[torch.nn.Module, dict, torch.Tensor]:
    """(network in eval mode on the CPU, card, example input of the size the network was trained on)."""
    import torch

    from .train import load_model_file
    card = load_model_file(path)["card"]
    task = card.get("task")
    if task == "segment":
        from .segment import load_model
        model, card = load_model(path, "cpu")
        size = card["patch"]
    elif task == "classify":
        from .classify.predict import load_classifier
        model, card = load_classifier(path, "cpu")
        size = card["size"]
    else:
        raise ModelError(f"{path} is a {task!r} model: only segmentation and classification models can be "
                         "exported (detection models hold Python-side box logic that TorchScript cannot trace).")
    example = torch.randn(1, card["in_channels"], *size, generator=torch.Generator().manual_seed(0))
    return model, card, example


def export(model_path: str | Path, out: str | Path, fmt: str = "torchscript") -> Path:
    """Write `out` atomically; it maps a (N, channels, *size) model-space tensor to the network's logits."""
    import torch

    from .volume import write_atomic
    if fmt not in FORMATS:
        raise InputError(f"Unknown export format {fmt!r}: use {' or '.join(FORMATS)}.")
    if fmt == "onnx" and importlib.util.find_spec("onnx") is None:
        raise InputError("ONNX export needs the onnx package: pip install onnx, or export to torchscript.")
    model, card, example = _load(model_path)
    card_json = json.dumps(card)
    with torch.no_grad():
        if fmt == "torchscript":
            traced = torch.jit.trace(model, example)
            return write_atomic(Path(out), lambda tmp: torch.jit.save(traced, str(tmp),
                                                                      _extra_files={"card.json": card_json}))
        axes = {"input": {0: "batch"}, "output": {0: "batch"}}
        return write_atomic(Path(out), lambda tmp: torch.onnx.export(
            model, (example,), str(tmp), input_names=["input"], output_names=["output"], dynamic_axes=axes,
            dynamo=False))


def load_card(path: str | Path) -> dict:
    """The model card inside an exported TorchScript file."""
    import torch
    files = {"card.json": ""}
    torch.jit.load(str(path), map_location="cpu", _extra_files=files)
    return json.loads(files["card.json"])


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a segmentation/classification model to TorchScript or ONNX")
    p.add_argument("model", help="a GDImaging model file (.pt)")
    p.add_argument("out", help="the exported file (.pt for TorchScript, .onnx)")
    p.add_argument("--format", default="torchscript", choices=FORMATS)
    p.set_defaults(run=lambda args: print(export(args.model, args.out, args.format)))
