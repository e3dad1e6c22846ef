"""Reading a MONAI bundle's inference config so that MONAI's own classes can build it, without running its code.

The parts GDImaging runs (segmentation: network_def, preprocessing, inferer, postprocessing; detection adds the
detector) and every item they reference are copied into a data-only config: simple "$..." expressions are
replaced by their values (bundle_expressions), components may only be MONAI transforms, inferers, networks and
detectors, and MONAI's ConfigParser then instantiates exactly the classes and arguments that MONAI's own
`monai.bundle run` would. A bundle that needs more (its `scripts/`, `torch.load` of an architecture file) runs
only once the user has trusted it (bundle_trust).
"""
from __future__ import annotations

import importlib.util
import inspect
import pydoc
import re
from pathlib import Path

from ..errors import ModelError
from .bundle_expressions import REF, SEPARATOR, Untrusted, evaluate, is_component

CONFIGS = ("inference.json", "inference.yaml", "inference.yml")
ROOTS = ("network_def", "preprocessing", "inferer", "postprocessing")
ALLOWED_KEYS = ("_target_", "_disabled_", "_desc_")
PLACED_BY_GDIMAGING = ("device", "sw_device")  # where windows run is the --device choice, not the bundle's
# "$@network_def.to(@device)": the network itself, which GDImaging places on the --device it was given
PLACEMENT = re.compile(r"\$\s*(@[\w#:]+)\.to\(\s*@?[\w#:]*\s*\)\s*")
# arguments that the zoo's configs still pass but MONAI 1.6 removed; dropping them changes nothing
REMOVED_ARGUMENTS = {"SwinUNETR": ("img_size",), "EnsureChannelFirstd": ("meta_key_postfix",)}
# LoadImaged's readers by name, as MONAI matches them (any case), and the package each needs
READER_PACKAGES = {"itkreader": "itk", "nibabelreader": "nibabel", "pydicomreader": "pydicom", "nrrdreader": "nrrd"}


def read_parser(folder: Path):
    """MONAI's ConfigParser holding the bundle's inference config and metadata, macros ("%...") resolved."""
    from monai.bundle import ConfigParser
    config = next((folder / "configs" / n for n in CONFIGS if (folder / "configs" / n).is_file()), None)
    if config is None:
        raise ModelError(f"{folder} has no configs/inference.json or .yaml: give a MONAI bundle folder.")
    if config.suffix != ".json" and importlib.util.find_spec("yaml") is None:
        raise ModelError(f"{config} is YAML, which needs the PyYAML package: pip install pyyaml.")
    parser = ConfigParser()
    try:
        parser.read_config(config)
        if (folder / "configs" / "metadata.json").is_file():
            parser.read_meta(folder / "configs" / "metadata.json")
        parser["bundle_root"] = str(folder)
        parser.resolve_macro_and_relative_ids()
    except Exception as e:  # JSON/YAML syntax errors and missing macro files come in many types
        raise ModelError(f"Cannot read the bundle config {config} ({type(e).__name__}: {e}): fix the file.") from None
    missing = [k for k in ("network_def", "preprocessing") if k not in parser.config]
    if missing:
        raise ModelError(f"{config} defines no {' or '.join(missing)}: give the bundle's inference config.")
    return parser


def data_only(parser, roots: tuple[str, ...] = ROOTS) -> dict:
    """The parts GDImaging runs (`roots`) and the items they reference, with expressions evaluated; refuses code.

    Raises:
        Untrusted: an expression or component needs the bundle's own code.
    """
    copier = _Copier(parser)
    for root in roots:
        if root in parser.config:
            copier.item(root)
    inferer = copier.config.get("inferer")
    if isinstance(inferer, dict):
        copier.config["inferer"] = {k: v for k, v in inferer.items() if k not in PLACED_BY_GDIMAGING}
    return copier.config


def setting(parser, value, where: str):
    """A config value as plain data: a "@id" reference or simple "$..." expression followed, as MONAI would.

    Raises:
        Untrusted: the value needs the bundle's own code.
    """
    if isinstance(value, str) and value.startswith("@"):
        return _Copier(parser).data(value[1:])
    if isinstance(value, str) and value.startswith("$"):
        return evaluate(value, _Copier(parser).data, where)
    return value


class _Copier:
    def __init__(self, parser) -> None:
        self.parser, self.config = parser, {}

    def item(self, id: str) -> None:
        top = SEPARATOR.split(id)[0]
        if top in self.config:
            return
        if top not in self.parser.config:
            raise ModelError(f"The bundle refers to @{id}, which its config does not define: fix the config.")
        self.config[top] = None  # a reference back to this item while it is copied is a loop
        self.config[top] = self.copy(self.parser.config[top], top)

    def data(self, id: str):
        """A referenced item as plain data (its own references followed), for an expression to compute with."""
        self.item(id)
        value = self.config
        for key in SEPARATOR.split(id):
            if value is None:
                raise ModelError(f"The bundle's @{id} refers to itself in a loop: fix the config.")
            value = value[int(key)] if isinstance(value, list) else value[key]
        return self.resolved(value)

    def resolved(self, value):
        if isinstance(value, str) and value.startswith("@"):
            return self.data(value[1:])
        if isinstance(value, dict):
            return {k: self.resolved(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolved(v) for v in value]
        return value

    def copy(self, value, where: str):
        if isinstance(value, dict):
            for k in value:
                if str(k).startswith("_") and k not in ALLOWED_KEYS:
                    raise Untrusted(f"The bundle's {where} uses {k}, which runs code")
            if "_target_" in value:
                check_component(value["_target_"], where)
            return {k: self.copy(v, f"{where}#{k}") for k, v in value.items()}
        if isinstance(value, list):
            return [self.copy(v, f"{where}#{i}") for i, v in enumerate(value)]
        if isinstance(value, str) and PLACEMENT.fullmatch(value):
            return self.copy(PLACEMENT.fullmatch(value).group(1), where)
        if isinstance(value, str) and value.startswith("$"):
            if REF.fullmatch(value[1:].strip()):  # "$@preprocessing" is the object itself, not a copy of it
                return self.copy(value[1:].strip(), where)
            return self.copy(evaluate(value, self.data, where), where)
        if isinstance(value, str) and value.startswith("@"):
            self.item(value[1:])
        return value


def check_component(target, where: str) -> None:
    """Only MONAI's transform, inferer, network and detector classes may be built from a config that is not trusted;
    the class itself is checked, not its dotted name (monai.networks.utils.torch.save is torch's function)."""
    name = target if isinstance(target, str) else repr(target)
    if name.startswith("scripts."):
        raise Untrusted(f"The bundle's {where} builds {name}, code from the bundle's scripts/ folder")
    found = located(name)
    if not found or not all(is_component(c) for c in found):
        raise Untrusted(f"The bundle's {where} builds {name!r}, which is not a MONAI transform, inferer or network")


def located(name: str) -> list:
    """What a `_target_` means, as MONAI's ComponentLocator finds a short name (None where nothing is found)."""
    from monai.bundle.config_item import ComponentLocator
    paths = name if "." in name else ComponentLocator().get_component_module_name(name)
    paths = [f"{m}.{name}" if "." not in name else m for m in (paths if isinstance(paths, list) else [paths])]
    return [pydoc.locate(p) if isinstance(p, str) else None for p in paths]


def without_removed_arguments(item):
    """The config less the arguments that this MONAI's classes no longer take (REMOVED_ARGUMENTS), wherever a
    component passes them (a network definition, a transform)."""
    if isinstance(item, list):
        return [without_removed_arguments(v) for v in item]
    if not isinstance(item, dict):
        return item
    target = str(item.get("_target_", ""))
    removed = [a for a in REMOVED_ARGUMENTS.get(target.split(".")[-1], ()) if a in item]
    if removed:
        accepted = {a for c in located(target) if c is not None for a in inspect.signature(c).parameters}
        removed = [a for a in removed if a not in accepted]
    return {k: without_removed_arguments(v) for k, v in item.items() if k not in removed}


def without_missing_readers(item):
    """The config with LoadImaged's `reader` dropped where its package is not installed (ITKReader without itk),
    so that MONAI picks the reader by file suffix; for NIfTI, nibabel gives the same array and affine."""
    if isinstance(item, list):
        return [without_missing_readers(v) for v in item]
    if not isinstance(item, dict):
        return item
    reader = item.get("reader")
    missing = str(item.get("_target_", "")).split(".")[-1] in ("LoadImage", "LoadImaged") and \
        isinstance(reader, str) and importlib.util.find_spec(READER_PACKAGES.get(reader.lower(), "monai")) is None
    return {k: without_missing_readers(v) for k, v in item.items() if not (missing and k == "reader")}


def refuse_pretrained(item, where: str = "config") -> None:
    """A component built with `pretrained` set would download (or unpickle) weights while the bundle loads:
    the bundle's own weights file is what runs, so such a config is refused before anything is built."""
    if isinstance(item, list):
        for i, v in enumerate(item):
            refuse_pretrained(v, f"{where}[{i}]")
    elif isinstance(item, dict):
        if "_target_" in item and item.get("pretrained") not in (None, False, "false", "False", "$False"):
            raise ModelError(f"The bundle's {where} builds {item['_target_']} with pretrained={item['pretrained']!r}, "
                             "which would download weights at run time: set it to false (the bundle's "
                             "models/ file holds the weights).")
        for k, v in item.items():
            refuse_pretrained(v, f"{where}.{k}" if where != "config" else str(k))


def instantiate(parser, roots: tuple[str, ...] = ROOTS) -> dict:
    """The bundle's parts (`roots`) built by MONAI's ConfigParser `parser`."""
    refuse_pretrained(parser.get())
    parser.set(without_missing_readers(without_removed_arguments(parser.get())))
    built = {}
    for name in roots:
        if name not in parser.config:
            continue
        try:
            built[name] = parser.get_parsed_content(name, instantiate=True)
        except Exception as e:
            raise ModelError(f"Cannot build the bundle's {name} ({type(e).__name__}: {str(e)[:300]}): the bundle "
                             "needs another MONAI version, or its config is broken.") from None
    return built
