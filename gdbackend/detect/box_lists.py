"""Box lists: boxes per image ([x0, y0, z0, x1, y1, z1] in LPS mm), read from and written to CSV or JSON, as
ground truth for training and as detections."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from ..boxes import COLUMNS
from ..errors import InputError
from ..volume import write_atomic


def read_boxes(path: str | Path) -> dict[str, np.ndarray]:
    """Ground-truth boxes per image from a CSV (columns image,x0,y0,z0,x1,y1,z1) or a JSON
    {"image": [[x0, y0, z0, x1, y1, z1], ...]}; an image may be listed with no boxes (JSON: [])."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"Box list not found: {path}.")
    if path.suffix.lower() == ".json":
        data = json.loads(path.read_text())
        if not isinstance(data, dict):
            raise InputError(f"{path} must hold an object mapping image names to lists of boxes.")
        out = {str(k): np.array([b["box"] if isinstance(b, dict) else b for b in v], float).reshape(-1, 6)
               for k, v in data.items()}
    else:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        if not rows or not {"image", *COLUMNS} <= set(rows[0]):
            raise InputError(f"{path} needs a header image,{','.join(COLUMNS)} and one row per box.")
        out: dict[str, list] = {}
        for r in rows:
            out.setdefault(r["image"], [])
            if all(r[c] not in ("", None) for c in COLUMNS):
                out[r["image"]].append([float(r[c]) for c in COLUMNS])
        out = {k: np.array(v, float).reshape(-1, 6) for k, v in out.items()}
    if not sum(len(v) for v in out.values()):
        raise InputError(f"The box list {path} holds no boxes: give at least one box (x0 y0 z0 x1 y1 z1, LPS mm).")
    return out


def write_boxes(path: str | Path, boxes: dict[str, tuple[np.ndarray, np.ndarray]]) -> Path:
    """Write {image: (boxes (n, 6), scores (n,))} as JSON (.json) or CSV (anything else)."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        data = {k: [{"box": [round(float(v), 3) for v in b], "score": round(float(s), 5)} for b, s in zip(bx, sc)]
                for k, (bx, sc) in boxes.items()}
        return write_atomic(path, lambda tmp: tmp.write_text(json.dumps(data, indent=1)))
    lines = [",".join(("image", *COLUMNS, "score"))]
    lines += [",".join([k, *(f"{v:.3f}" for v in b), f"{s:.5f}"])
              for k, (bx, sc) in boxes.items() for b, s in zip(bx, sc)]
    return write_atomic(path, lambda tmp: tmp.write_text("\n".join(lines) + "\n"))
