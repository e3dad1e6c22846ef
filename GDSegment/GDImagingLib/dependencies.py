"""Python packages on first use, after asking: torch through the PyTorch extension (PyTorchUtils),
the rest from the module's Resources/requirements.txt through pip, never replacing Slicer's own
SimpleITK/numpy nor installing torch by pip (CONVENTIONS 6)."""
from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import slicer

TORCH_REQUIREMENT = ">=2.4"
NEVER_BY_PIP = ["SimpleITK", "numpy", "torch", "torchvision", "requests"]


def requirements(path: str | Path) -> list[str]:
    lines = (line.split("#")[0].strip() for line in Path(path).read_text().splitlines())
    return [line for line in lines if line]


def ensureTorch() -> bool:
    """True when torch is importable; otherwise ask to install it through the PyTorch extension."""
    try:
        import PyTorchUtils
    except ModuleNotFoundError:
        slicer.util.errorDisplay("GDImaging computes with PyTorch: install the PyTorch extension from the "
                                 "Extensions Manager, restart Slicer and try again.")
        return False
    logic = PyTorchUtils.PyTorchUtilsLogic()
    if logic.torchInstalled():
        return True
    return logic.installTorch(askConfirmation=True, torchVersionRequirement=TORCH_REQUIREMENT) is not None


def ensurePackages(requirementsPath: str | Path, requester: str) -> bool:
    """Install what requirements.txt lists and is missing, after asking; True when all are present."""
    wanted = requirements(requirementsPath)
    if not wanted:
        return True
    try:  # Slicer 5.11+: checks, asks, shows progress, offers a restart; a submodule, loaded only on import
        from slicer import packaging
    except ImportError:
        pass
    else:
        packaging.pip_ensure(wanted, skip_packages=NEVER_BY_PIP, requester=requester)
        return not _missing(wanted)
    missing = _missing(wanted)
    if missing and slicer.util.confirmOkCancelDisplay(
            f"{requester} needs these Python packages, which will be downloaded and installed now:\n"
            + "\n".join(missing), "Install Python packages"):
        slicer.util.pip_install(missing)
    return not _missing(wanted)


def _missing(wanted: list[str]) -> list[str]:
    """The requirements whose distribution is not installed (by distribution name: pyyaml's module is yaml,
    scikit-image's is skimage)."""
    names = {req: re.split(r"[<>=!~\[; ]", req, maxsplit=1)[0] for req in wanted}
    return [req for req, name in names.items() if not _installed(name)]


def _installed(name: str) -> bool:
    try:
        metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return False
    return True


def ensureDependencies(requirementsPath: str | Path, requester: str) -> bool:
    """What a panel calls before its first job: torch, then the module's other packages."""
    return ensureTorch() and ensurePackages(requirementsPath, requester)
