"""Registration presets: named sets of registration options for common cases, shipped as data (presets.json
beside this file) or saved by a user (the same JSON form, as text the caller keeps: a file, Slicer's settings).
Every preset is checked by RegistrationOptions like any other option values, so a preset can never hold what the
engine would refuse. No torch here: the Slicer panel lists presets before PyTorch is installed."""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from .options import RegistrationOptions

SHIPPED = Path(__file__).with_name("presets.json")
FORMAT = 1


@dataclass(frozen=True)
class Preset:
    """Args:
        name: identifier, lower-case words joined by hyphens (`gd register --preset NAME`).
        title: what the panel lists.
        description: when to use it.
        options: RegistrationOptions values by name; the others keep their defaults.
        shipped: True for GDImaging's own presets, which a user's cannot replace.
    """
    name: str
    title: str
    description: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    shipped: bool = False

    def registration_options(self, **overrides: Any) -> RegistrationOptions:
        """The checked options of this preset, with `overrides` (option values by name) given on top."""
        return RegistrationOptions.from_values({**self.options, **overrides})


def _preset(entry: Mapping[str, Any], shipped: bool, where: str) -> Preset:
    if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str) or not entry["name"].strip():
        raise InputError(f"A preset in {where} has no name: each needs a name, a title and options.")
    name = entry["name"].strip()
    options = entry.get("options", {})
    if not isinstance(options, Mapping):
        raise InputError(f"Preset {name!r} in {where}: options must be an object of option names and values.")
    preset = Preset(name, str(entry.get("title") or name), str(entry.get("description", "")), dict(options),
                    shipped)
    try:
        preset.registration_options()
    except (InputError, TypeError) as e:
        raise InputError(f"Preset {name!r} in {where} cannot run: {e}") from None
    return preset


def parse_presets(text: str, where: str = "the presets", shipped: bool = False) -> dict[str, Preset]:
    """Presets by name from their JSON text ({"format": 1, "presets": [...]}); InputError on anything else."""
    try:
        data = json.loads(text) if text.strip() else {"presets": []}
    except json.JSONDecodeError as e:
        raise InputError(f"{where} is not valid JSON ({e.msg}, line {e.lineno}).") from None
    entries = data.get("presets") if isinstance(data, Mapping) else None
    if not isinstance(entries, list):
        raise InputError(f"{where} holds no list of presets: write {{\"format\": {FORMAT}, \"presets\": [...]}}.")
    presets: dict[str, Preset] = {}
    for entry in entries:
        preset = _preset(entry, shipped, where)
        if preset.name in presets:
            raise InputError(f"{where} names the preset {preset.name!r} twice.")
        presets[preset.name] = preset
    return presets


def dump_presets(presets: Mapping[str, Preset]) -> str:
    """The JSON text of a user's presets (the shipped ones are left out: they come with every release)."""
    entries = [{"name": p.name, "title": p.title, "description": p.description, "options": p.options}
               for p in presets.values() if not p.shipped]
    return json.dumps({"format": FORMAT, "presets": entries}, indent=1)


def shipped_presets() -> dict[str, Preset]:
    return parse_presets(SHIPPED.read_text(), "GDImaging's presets.json", shipped=True)


def all_presets(user_text: str = "") -> dict[str, Preset]:
    """GDImaging's presets, then the user's (from their JSON text) in the order they were saved."""
    shipped = shipped_presets()
    user = parse_presets(user_text, "your saved presets")
    clash = sorted(set(shipped) & set(user))
    if clash:
        raise InputError(f"Your saved presets reuse the names of GDImaging's own ({', '.join(clash)}): rename them.")
    return {**shipped, **user}


def with_preset(user_text: str, name: str, options: Mapping[str, Any], title: str = "",
                description: str = "") -> str:
    """The user's presets JSON text with `name` added or replaced by these options (checked first)."""
    presets = parse_presets(user_text, "your saved presets")
    if name in shipped_presets():
        raise InputError(f"{name!r} is one of GDImaging's presets: save yours under another name.")
    presets[name] = _preset({"name": name, "title": title or name, "description": description,
                             "options": dict(options)}, False, "the new preset")
    return dump_presets(presets)


def without_preset(user_text: str, name: str) -> str:
    """The user's presets JSON text without `name` (a shipped preset cannot be removed)."""
    presets = parse_presets(user_text, "your saved presets")
    if name not in presets:
        raise InputError(f"There is no saved preset {name!r} to remove.")
    del presets[name]
    return dump_presets(presets)
