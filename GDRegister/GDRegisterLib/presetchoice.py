"""The Preset row of GD Register: GDImaging's presets and the user's own, kept in Slicer's user settings
(text under "GDImaging/register/presets"), as values of the panel's parameter node. No Qt widgets are made
here: the panel passes its combo box, the rest takes and returns plain values."""
from __future__ import annotations

import logging
import re

from gdbackend.errors import InputError
from gdbackend.register.options import DEFAULTS, SEARCH_WHOLE_DEG
from gdbackend.register.presets import Preset, all_presets, shipped_presets, with_preset
from GDImagingLib import settings

SETTINGS_KEY = "register/presets"
PANEL_ITERATIONS = 200   # the panel's one count for every level, where a preset gives none


def savedPresetsText() -> str:
    return settings.value(SETTINGS_KEY, "")


def presets() -> dict[str, Preset]:
    """Every preset to list. Saved presets that no longer read (edited by hand, an older release) are skipped
    with a warning rather than taking GDImaging's own with them."""
    try:
        return all_presets(savedPresetsText())
    except InputError as e:
        logging.warning(f"GD Register: your saved presets are not listed: {e}")
        return shipped_presets()


def parameterValues(preset: Preset) -> dict:
    """The parameter node's values for a preset: every option the panel shows, the preset's or the default."""
    o = preset.registration_options()
    return {"transform": ",".join(o.stages), "metric": o.metric, "optimizer": o.optimizer, "levels": o.levels,
            "iterations": max(o.iterations) if isinstance(o.iterations, tuple) else o.iterations or PANEL_ITERATIONS,
            "learningRate": o.learning_rate or 0.0, "initialize": o.initialize,
            "searchRotation": (o.rotation_search or 0.0) >= SEARCH_WHOLE_DEG}


def presetOptions(parameterNode) -> dict:
    """The registration options the panel shows now, as a preset keeps them (defaults left out)."""
    p = parameterNode
    options = {"transform": [s for s in p.transform.split(",") if s], "metric": p.metric,
               "optimizer": p.optimizer, "levels": p.levels, "iterations": p.iterations,
               "initialize": p.initialize}
    if p.learningRate > 0:
        options["learning_rate"] = p.learningRate
    if p.searchRotation:
        options["rotation_search"] = SEARCH_WHOLE_DEG
    return {k: v for k, v in options.items() if v != DEFAULTS.get(k)}


def presetName(title: str) -> str:
    """A preset's name from the title a user typed: lower-case words joined by hyphens."""
    name = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    if not name:
        raise InputError("Give the preset a name with at least one letter or digit.")
    return name


def savePreset(title: str, options: dict) -> str:
    """Add (or replace) the user's preset called `title`; returns its name."""
    name = presetName(title)
    settings.setValue(SETTINGS_KEY, with_preset(savedPresetsText(), name, options, title.strip()))
    return name


def fillComboBox(comboBox, chosen: str = "") -> None:
    """List the presets (title shown, name as the item's data, description as its tooltip) after an entry
    for options set by hand, and select `chosen`."""
    comboBox.clear()
    comboBox.addItem("(options below)", "")
    for index, preset in enumerate(presets().values(), start=1):
        comboBox.addItem(preset.title, preset.name)
        comboBox.setItemData(index, preset.description, 3)   # 3: Qt.ToolTipRole
    index = comboBox.findData(chosen) if chosen else 0
    comboBox.setCurrentIndex(max(index, 0))
