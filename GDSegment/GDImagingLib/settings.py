"""The panels' choices kept across sessions in Slicer's user settings (QSettings, keys under "GDImaging/"):
device, last models, last folders. A scene's parameter node keeps them for that scene only; a user who
always runs on the CPU or one model should not choose again in every session."""
from __future__ import annotations

import qt

PREFIX = "GDImaging/"


def value(key: str, default: str = "") -> str:
    """The saved text for `key` ("segment/device", "folders/models"), or `default`."""
    saved = qt.QSettings().value(PREFIX + key)
    return default if saved is None or saved == "" else str(saved)


def setValue(key: str, text: str) -> None:
    settings = qt.QSettings()
    if value(key) != str(text):
        settings.setValue(PREFIX + key, str(text))
