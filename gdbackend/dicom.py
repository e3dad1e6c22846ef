"""DICOM series given as a folder: what scanners and PACS exports hand a user, read with SimpleITK's GDCM series
reader (slices sorted along the slice normal, rescale slope and intercept applied).

A folder holding one series is read as it is. A folder holding several (a study exported to one folder) is refused
with the list of its series, and one of them is chosen by naming its Series Instance UID after the folder,
`FOLDER/UID`, the way a PACS path names it.
"""
from __future__ import annotations

import re
from pathlib import Path

import SimpleITK as sitk

from .errors import InputError

_UID = re.compile(r"^[0-9]+(\.[0-9]+)+$")     # DICOM UIDs: digits in dot-separated parts
_DESCRIPTION = "0008|103e"
_MODALITY = "0008|0060"


def is_series_path(path: Path) -> bool:
    """Whether `path` names a DICOM series: a folder, or FOLDER/UID where UID is not a file of FOLDER."""
    return path.is_dir() or (not path.exists() and path.parent.is_dir() and bool(_UID.match(path.name)))


def read_series(path: Path) -> sitk.Image:
    """The series in folder `path`, or the series `path.name` of folder `path.parent`.

    Args:
        path: a folder of one series' files, or FOLDER/SERIES_INSTANCE_UID.
    """
    folder, wanted = (path, None) if path.is_dir() else (path.parent, path.name)
    uids = list(sitk.ImageSeriesReader.GetGDCMSeriesIDs(str(folder)))
    if not uids:
        raise InputError(f"{folder} is a folder without a DICOM series in it: give an image file, or the folder "
                         "that holds the series' slice files (sub-folders are not searched).")
    if wanted is None and len(uids) > 1:
        listing = "; ".join(_describe(folder, uid) for uid in uids)
        raise InputError(f"{folder} holds {len(uids)} DICOM series: {listing}. Choose one as "
                         f"{folder / uids[0]} (the folder, then the series' UID).")
    if wanted is not None and wanted not in uids:
        raise InputError(f"{folder} has no DICOM series {wanted}: it holds {', '.join(uids)}.")
    files = sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder), wanted or uids[0])
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(files)
    try:
        return reader.Execute()
    except RuntimeError as e:
        first = str(e).strip().splitlines()[-1] if str(e).strip() else ""
        raise InputError(f"Cannot read the DICOM series in {folder} ({first}): check that its files are whole, "
                         "or convert it to NIfTI first.") from None


def _describe(folder: Path, uid: str) -> str:
    """'UID (modality, description, N files)', from the series' first file's header."""
    files = sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder), uid)
    reader = sitk.ImageFileReader()
    reader.SetFileName(files[0])
    details = []
    try:
        reader.ReadImageInformation()
        details = [reader.GetMetaData(key).strip() for key in (_MODALITY, _DESCRIPTION) if reader.HasMetaDataKey(key)]
    except RuntimeError:
        pass                # a header we cannot read still leaves the UID and the file count to choose by
    return f"{uid} ({', '.join([d for d in details if d] + [f'{len(files)} files'])})"
