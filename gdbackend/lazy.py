"""Package names imported from the modules that own them on first use (PEP 562 module `__getattr__`).

Importing a package's torch-backed submodules in its __init__ would load torch (and MONAI, SimpleITK) for
`gd --help`, the commands' parsers and the Slicer panels' option lists, before PyTorch may even be installed;
so each such package names where its public names live and takes its `__getattr__` from here. This module
itself imports nothing heavy.
"""
from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """The module `__getattr__` of `package`: imports a name from its home on first use and keeps it in the
    package, so that later uses skip the import machinery.

    Args:
        package: the package's `__name__` (call this from its __init__, where it is already in `sys.modules`).
        homes: public name -> its home, a module relative to `package` ("engine", "retina3d.pipeline") holding
            the same name, or "module:attribute" where it is named otherwise there ("checkpoint:load").
    """
    namespace = vars(sys.modules[package])

    def __getattr__(name: str) -> Any:
        if name not in homes:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, _, attribute = homes[name].partition(":")
        value = getattr(importlib.import_module(f".{module}", package), attribute or name)
        namespace[name] = value
        return value

    return __getattr__
