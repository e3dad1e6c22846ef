#!/usr/bin/env python
"""Train the brain-extraction U-Net shipped in Resources/Models, from the real sample data, and test it.

    python scripts/train_brain_model.py [--epochs 120] [--seed 0] [--out Resources/Models/brain-extraction-t1.pt]

Seeded and single-threaded on a CPU, so the same command writes the same weights (the file's sha256 is printed).
The recipe (training variants of Colin27, held-out test forms of ITK's T1) is in gdbackend/segment/sample_brain.py;
the card inside the file records the command, the training cases and the test figures. Needs the sample data:
scripts/fetch_data.sh.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NAME = "brain-extraction-t1"
DESCRIPTION = ("Brain extraction (skull stripping) of T1-weighted MRI heads, with or without skull, 3D U-Net at 2 mm; "
               "trained on Colin27 with synthesised contrasts")


def evaluate_model(path: Path) -> list[dict]:
    """Dice, IoU, HD95 (mm) of the model on each held-out test form of ITK's T1 (largest component kept)."""
    from gdbackend.segment.inference import load_model, predict
    from gdbackend.segment.metrics import evaluate
    from gdbackend.segment.sample_brain import test_cases

    model, card = load_model(path)
    rows = []
    for case in test_cases():
        scores = evaluate(predict(model, card, case.image, largest_component=True), case.label, card["labels"])
        rows.append({"case": case.name, **{k: round(float(scores[k]), 4) for k in ("dice", "iou", "hd95")}})
    return rows


def train(out: Path, epochs: int, samples_per_case: int, seed: int) -> dict:
    """Train on the Colin27 variants and write the model, without its resume state, to `out`."""
    import torch

    from gdbackend.progress import training_progress
    from gdbackend.segment.labels import parse_labels
    from gdbackend.segment.sample_brain import LABELS, PATCH, SPACING, training_cases
    from gdbackend.segment.train import train_segmentation
    from gdbackend.train import checkpoint
    from gdbackend.train.engine import last_path
    from gdbackend.train.options import training_config

    cases = training_cases(seed)
    config = training_config({"epochs": epochs, "schedule": "cosine", "lr": 3e-3, "warmup_epochs": 2,
                              "seed": seed, "device": "cpu"}, "segment", None)
    command = (f"python scripts/train_brain_model.py --epochs {epochs} --samples-per-case {samples_per_case} "
               f"--seed {seed}")
    extra = {"name": NAME, "description": DESCRIPTION, "modality": "MR T1", "licence": "Apache-2.0",
             "trained_by": command}
    work = out.with_name(f".{out.stem}.training.pt")
    result, card = train_segmentation(cases, [], parse_labels(LABELS), config, work, spacing=(SPACING,),
                                      patch=(PATCH,), samples_per_case=samples_per_case, card_extra=extra,
                                      on_event=training_progress("brain model"))
    payload = checkpoint.load(last_path(work), task="segment")   # the final weights: no validation picks a "best"
    card = {**payload["card"], "training": {"epochs": len(result.history), "seconds": round(result.seconds),
                                            "final_loss": round(result.history[-1]["loss"], 4),
                                            "torch": str(torch.__version__)}}
    checkpoint.save(out, payload["model"], card)   # no optimiser or random states: a few MB of weights and the card
    for leftover in (work, last_path(work)):
        leftover.unlink(missing_ok=True)
    return card


def registry_entry(path: Path) -> dict:
    """The registry's description of the shipped file, from its card, with its sha256 and size."""
    import torch

    from gdbackend.models.download import digest_of
    card = torch.load(path, weights_only=True)["card"]
    return {"name": NAME, "kind": "model", "version": "1", "task": "segment", "description": DESCRIPTION + ".",
            "modality": card["modality"], "channels": ["T1"], "spacing": card["spacing"],
            "labels": [label["name"] for label in card["labels"]], "licence": card["licence"],
            "size": path.stat().st_size, "file": f"Models/{path.name}",
            "sha256": digest_of(path)}


def write_entry(registry: Path, entry: dict) -> None:
    """Put `entry` first in the registry (shipped models lead the lists), replacing an older one of its name,
    in the file's layout (one field per line, short lists on one line)."""
    data = json.loads(registry.read_text(encoding="utf-8"))
    data["models"] = [entry] + [m for m in data["models"] if m.get("name") != entry["name"]]
    text = json.dumps(data, indent=1, ensure_ascii=False)
    text = re.sub(r"\[\s*([^\[\]{}]*?)\s*\]", lambda m: "[" + re.sub(r",\s+", ", ", m.group(1)) + "]", text)
    registry.write_text(text + "\n", encoding="utf-8")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=120)
    p.add_argument("--samples-per-case", type=int, default=4, help="random 64^3 patches per case and epoch")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=ROOT / "Resources" / "Models" / f"{NAME}.pt")
    p.add_argument("--evaluate-only", action="store_true", help="test the model at --out without training")
    p.add_argument("--registry", type=Path, default=ROOT / "Resources" / "models.json",
                   help="registry whose entry for the model gets its new sha256 and size (none: leave it)")
    args = p.parse_args()
    import torch
    torch.set_num_threads(1)   # one thread: the same weights on every machine with this torch build
    args.out.parent.mkdir(parents=True, exist_ok=True)
    start = time.time()
    if not args.evaluate_only:
        train(args.out, args.epochs, args.samples_per_case, args.seed)
    rows = evaluate_model(args.out)
    if not args.evaluate_only:   # the card carries its own test figures
        from gdbackend.train import checkpoint
        payload = checkpoint.load(args.out, task="segment")
        checkpoint.save(args.out, payload["model"], {**payload["card"], "test": rows})
    if args.registry and args.out.parent == args.registry.parent / "Models":
        write_entry(args.registry, registry_entry(args.out))
    from gdbackend.models.download import digest_of
    digest = digest_of(args.out)
    print(json.dumps({"model": args.out.name, "sha256": digest, "size": args.out.stat().st_size,
                      "seconds": round(time.time() - start), "test": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
