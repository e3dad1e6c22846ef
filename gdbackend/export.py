"""Export a trained segmentation or classification checkpoint for use outside GDImaging: a `torch.export`
program (`.pt2`, always; TorchScript is deprecated in torch 2.14) or ONNX (when the `onnx` package is
installed). In the `.pt2` file the model card travels inside (`card.json`), so the user still knows the spacing,
normalisation and labels the network expects."""
from __future__ import annotations

import argparse
import importlib.util
import json
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import InputError, ModelError

if TYPE_CHECKING:   # torch is imported by the functions that use it, so that `gd --help` starts without it
    import torch

FORMATS = ("pt2", "onnx")


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
                         "exported (detection models hold Python-side box logic that an export cannot capture).")
    # a batch of 2: torch.export specialises sizes 0 and 1, and the program must take any batch
    example = torch.randn(2, card["in_channels"], *size, generator=torch.Generator().manual_seed(0))
    return model, card, example


def export(model_path: str | Path, out: str | Path, fmt: str = "pt2") -> Path:
    """Write `out` atomically; it maps a (N, channels, *spatial) model-space tensor to the network's logits, for
    any batch N and (for networks that allow it) other spatial sizes than the one trained on.

    Args:
        model_path: a GDImaging segmentation or classification model file.
        out: the exported file (.pt2 or .onnx).
        fmt: "pt2" (torch.export, loaded with `torch.export.load(out).module()`) or "onnx".
    """
    import torch

    from .volume import write_atomic
    if fmt not in FORMATS:
        raise InputError(f"Unknown export format {fmt!r}: use {' or '.join(FORMATS)}.")
    if fmt == "onnx" and importlib.util.find_spec("onnx") is None:
        raise InputError("ONNX export needs the onnx package: pip install onnx, or export to pt2.")
    model, card, example = _load(model_path)
    card_json = json.dumps(card)
    with torch.no_grad():
        if fmt == "pt2":
            dynamic = {axis: torch.export.Dim.AUTO for axis in range(example.ndim) if axis != 1}   # not channels
            program = torch.export.export(model, (example,), dynamic_shapes=(dynamic,))
            return write_atomic(Path(out), lambda tmp: torch.export.save(program, str(tmp),
                                                                         extra_files={"card.json": card_json}))
        axes = {"input": {0: "batch"}, "output": {0: "batch"}}
        return write_atomic(Path(out), lambda tmp: torch.onnx.export(
            model, (example,), str(tmp), input_names=["input"], output_names=["output"], dynamic_axes=axes,
            dynamo=False))


def load_card(path: str | Path) -> dict:
    """The model card inside an exported .pt2 file."""
    import torch
    files = {"card.json": ""}
    torch.export.load(str(path), extra_files=files)
    return json.loads(files["card.json"])


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a segmentation/classification model with torch.export or to ONNX")
    p.add_argument("model", help="a GDImaging model file (.pt)")
    p.add_argument("out", help="the exported file (.pt2 for torch.export, .onnx)")
    p.add_argument("--format", default="pt2", choices=FORMATS)
    p.set_defaults(run=lambda args: print(export(args.model, args.out, args.format)))
