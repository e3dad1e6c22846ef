"""Trusting a MONAI bundle: the user's once-given consent to run its own code (scripts/, expressions such as
`torch.load` of a DiNTS architecture file). Consent is kept per bundle folder with a digest of its code and
configs, so that a bundle changed after it was trusted has to be trusted again."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..models.registry import cache_dir
from ..volume import write_atomic

WEIGHTS_BYTES = 16 * 2 ** 20  # files under models/ above this are weights, loaded as data: not part of the digest
TRUST_FILE = "trusted-bundles.json"


def digest(folder: Path) -> str:
    """sha256 over the bundle's file names and contents, weights files left out."""
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder).as_posix()
        if relative.startswith("models/") and path.stat().st_size > WEIGHTS_BYTES or "__pycache__" in relative:
            continue
        h.update(relative.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def _records() -> dict[str, str]:
    path = cache_dir() / TRUST_FILE
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return records if isinstance(records, dict) else {}


def is_trusted(folder: Path) -> bool:
    return _records().get(str(folder.resolve())) == digest(folder)


def trust(folder: Path) -> None:
    """Record the user's consent to run this bundle's code, as it is now."""
    records = {**_records(), str(folder.resolve()): digest(folder)}
    write_atomic(cache_dir() / TRUST_FILE, lambda tmp: Path(tmp).write_text(json.dumps(records, indent=1)))
