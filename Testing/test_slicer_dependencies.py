"""Python packages on first use, as in Slicer 5.11+: through `slicer.packaging`, a submodule that Slicer has not
imported until someone imports it (on real Slicer Core with the packaging double)."""
from __future__ import annotations

import sys
import types

from slicer_double import load

load("GDSegment")
import slicer  # noqa: E402

from GDImagingLib.dependencies import NEVER_BY_PIP, ensurePackages  # noqa: E402


def test_missing_packages_are_installed_through_slicer_packaging_even_before_it_is_imported(tmp_path, monkeypatch):
    calls = []
    spy = types.ModuleType("slicer.packaging")
    spy.pip_ensure = lambda requirements, **kwargs: calls.append((requirements, kwargs))
    monkeypatch.delattr(slicer, "packaging", raising=False)  # as in a Slicer session: not imported yet
    monkeypatch.setitem(sys.modules, "slicer.packaging", spy)
    monkeypatch.setattr(slicer.util, "pip_install", lambda *a, **k: calls.append(("slicer.util.pip_install", a)))
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("# what the module needs\ngdimaging-absent-package>=1.0\n")
    assert not ensurePackages(requirements, "GDSegment")  # nothing was really installed
    assert calls == [(["gdimaging-absent-package>=1.0"], {"skip_packages": NEVER_BY_PIP, "requester": "GDSegment"})]
    assert {"torch", "SimpleITK", "numpy"} <= set(NEVER_BY_PIP)  # pip must never replace Slicer's own


def test_installed_packages_are_found_by_distribution_name(tmp_path):
    """pyyaml's module is yaml and scikit-image's is skimage: what the module lists is found as installed."""
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("pyyaml>=6\nscikit-image>=0.22\nmonai>=1.4\n")
    assert ensurePackages(requirements, "GDSegment")
    assert ensurePackages(load("GDSegment").__file__.replace("GDSegment.py", "Resources/requirements.txt"),
                          "GDSegment")
