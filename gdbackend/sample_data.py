"""Where the real sample images live once `scripts/fetch_data.sh` has unpacked the Debian packages (and
pydicom's CT slice)."""
from __future__ import annotations

import os
from pathlib import Path

from .errors import InputError

_PACKAGE_ROOT = Path(__file__).resolve().parent.parent
ITK_EXAMPLES = "usr/share/doc/insighttoolkit5-examples/examples/Data"
MRICRON = "usr/share/mricron/templates"
PYDICOM = "pydicom/data/test_files"


def data_root() -> Path:
    return Path(os.environ.get("GDIMAGING_DATA", _PACKAGE_ROOT / ".data")) / "raw"


def itk_example(name: str) -> Path:
    """A file of `insighttoolkit5-examples`, e.g. "BrainProtonDensitySliceBorder20.png"."""
    return _existing(data_root() / ITK_EXAMPLES / name)


def mricron(name: str) -> Path:
    """A file of `mricron-data`, e.g. "ch2bet.nii.gz"."""
    return _existing(data_root() / MRICRON / name)


def pydicom_file(name: str) -> Path:
    """A test file of pydicom's wheel, e.g. "CT_small.dcm" (a real CT slice)."""
    return _existing(data_root() / PYDICOM / name)


def _existing(path: Path) -> Path:
    if not path.exists():
        raise InputError(f"Sample data {path.name} is missing: run scripts/fetch_data.sh "
                         "(or set GDIMAGING_DATA to the folder it filled).")
    return path
