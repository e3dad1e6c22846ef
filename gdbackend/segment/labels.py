"""Label lists ("1:brain,2:tumour") with names and colours, as the model card and Slicer segments hold them."""
from __future__ import annotations

from ..errors import InputError

# Distinct colours (RGB 0-1) in the order Slicer's GenericAnatomyColors starts with.
PALETTE = [(0.50, 0.68, 0.50), (0.94, 0.84, 0.57), (0.69, 0.48, 0.40), (0.43, 0.72, 0.82),
           (0.85, 0.40, 0.39), (0.56, 0.49, 0.82), (0.90, 0.62, 0.30), (0.36, 0.60, 0.74)]


def parse_labels(text: str) -> list[dict]:
    """"1:brain,2:ventricles[:#ff0000]" -> [{"value": 1, "name": "brain", "color": [r, g, b]}, ...]."""
    labels = []
    for i, item in enumerate(p.strip() for p in (text or "").split(",") if p.strip()):
        parts = item.split(":")
        if len(parts) not in (2, 3) or not parts[0].strip().lstrip("-").isdigit() or not parts[1].strip():
            raise InputError(f"Bad label {item!r}: write labels as VALUE:NAME[:#RRGGBB], e.g. \"1:brain,2:tumour\".")
        value = int(parts[0])
        color = PALETTE[i % len(PALETTE)]
        if len(parts) == 3:
            h = parts[2].strip().lstrip("#")
            if len(h) != 6:
                raise InputError(f"Bad colour {parts[2]!r} for label {value}: write it as #RRGGBB.")
            color = tuple(int(h[j:j + 2], 16) / 255 for j in (0, 2, 4))
        labels.append({"value": value, "name": parts[1].strip(), "color": [round(c, 3) for c in color]})
    if not labels:
        raise InputError("No labels given: list them as VALUE:NAME, e.g. --labels \"1:brain\".")
    values = [lb["value"] for lb in labels]
    if 0 in values or min(values) < 0:
        raise InputError("Label 0 is the background and labels are positive: list only the structures, from 1 up.")
    if len(set(values)) != len(values):
        raise InputError(f"A label value is listed twice in {values}: give each value once.")
    return labels
