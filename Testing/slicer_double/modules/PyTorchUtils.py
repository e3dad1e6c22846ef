"""`PyTorchUtils` of the double: the logic of the PyTorch extension (fepegar/SlicerPyTorch, mirrors
PyTorchUtils.py), except that light-the-torch never runs.

`installTorch` appends the light-the-torch arguments it would run ("install", "torch<req>",
"torchvision<req>"[, "--pytorch-computation-backend=..."]) to `_installRequests`, for tests to read (and
clear between tests), then returns the torch of this environment. `uninstallTorch` goes through
slicer.util.pip_uninstall, which the packaging double records.
"""
from __future__ import annotations

import importlib.metadata
import logging
from typing import TYPE_CHECKING

import slicer
from slicer.ScriptedLoadableModule import ScriptedLoadableModuleLogic

if TYPE_CHECKING:
    import types

_installRequests: list[list[str]] = []


class PyTorchUtilsLogic(ScriptedLoadableModuleLogic):
    """Finds, imports and installs torch for other modules. As in the extension, it does not call the base
    class's __init__ (no moduleName, no parameter node)."""

    def __init__(self) -> None:
        self._torch = None

    @property
    def nvidiaDriverVersionInformation(self) -> str:
        """The NVIDIA driver version as light-the-torch detects it; "" when light-the-torch is not installed
        (it is not installed just for this)."""
        try:
            import light_the_torch._cb as computationBackend
            version = computationBackend._detect_nvidia_driver_version()
        except Exception:
            return ""
        return f"installed version {version}" if version is not None else ""

    @property
    def torchVersionInformation(self) -> str:
        if not PyTorchUtilsLogic.torchInstalled():
            return "not installed"
        import torch
        return f"installed version {torch.__version__}"

    @property
    def torchvisionVersionInformation(self) -> str:
        if not PyTorchUtilsLogic.torchvisionInstalled():
            return "not installed"
        import torchvision
        return f"installed version {torchvision.__version__}"

    @property
    def torch(self) -> types.ModuleType | None:
        """The torch module, installed first when missing (None if that was declined)."""
        if self._torch is None:
            logging.info("Importing torch...")
            self._torch = self.importTorch()
        return self._torch

    @staticmethod
    def torchInstalled() -> bool:
        """torch has installed metadata and imports. The metadata is looked at first because importing a
        broken install can keep files open that then cannot be uninstalled."""
        try:
            importlib.metadata.files("torch")
        except importlib.metadata.PackageNotFoundError:
            return False
        try:
            import torch  # noqa: F401
        except ModuleNotFoundError:
            return False
        return True

    @staticmethod
    def torchvisionInstalled() -> bool:
        try:
            import torchvision  # noqa: F401
        except ModuleNotFoundError:
            return False
        return True

    def importTorch(self) -> types.ModuleType | None:
        """torch, installed first when missing; None (with a warning) when the installation was declined."""
        if PyTorchUtilsLogic.torchInstalled():
            import torch
        else:
            torch = self.installTorch()
        if torch is None:
            logging.warning("PyTorch was not installed")
        else:
            logging.info(f"PyTorch {torch.__version__} imported successfully")
        return torch

    def installTorch(self, askConfirmation: bool = False, forceComputationBackend: str | None = None,
                     torchVersionRequirement: str | None = None,
                     torchvisionVersionRequirement: str | None = None) -> types.ModuleType | None:
        """Install torch and torchvision with light-the-torch (recorded, see `_installRequests`) and return
        torch. With `askConfirmation`, outside testing mode (the command line's --testing), asks with
        slicer.util.confirmOkCancelDisplay and returns None when declined."""
        args = PyTorchUtilsLogic._getPipInstallArguments(forceComputationBackend, torchVersionRequirement,
                                                         torchvisionVersionRequirement)
        if askConfirmation and not slicer.app.commandOptions().testingEnabled:
            if not slicer.util.confirmOkCancelDisplay(
                    f"PyTorch will be downloaded and installed using light-the-torch (ltt {' '.join(args)})."
                    " The process might take some minutes."):
                logging.info("Installation of PyTorch aborted by user")
                return None
        logging.info(f"Install PyTorch using light-the-torch with arguments: {args}")
        _installRequests.append(args)
        import torch
        return torch

    def uninstallTorch(self, askConfirmation: bool = False, forceComputationBackend: str | None = None) -> None:
        """Uninstall torch and torchvision with pip (the arguments are not used, as in the extension)."""
        slicer.util.pip_uninstall("torch torchvision")
        logging.info("PyTorch uninstalled successfully.")

    @staticmethod
    def _getPipInstallArguments(forceComputationBackend: str | None = None,
                                torchVersionRequirement: str | None = None,
                                torchvisionVersionRequirement: str | None = None) -> list[str]:
        """light-the-torch's command line: the two packages with their requirements, and the backend if
        forced (otherwise light-the-torch picks the CUDA build that suits the driver, else CPU)."""
        args = ["install", "torch" + (torchVersionRequirement or ""),
                "torchvision" + (torchvisionVersionRequirement or "")]
        if forceComputationBackend is not None:
            args.append(f"--pytorch-computation-backend={forceComputationBackend}")
        return args

    def getDevice(self):
        """torch.device("cuda") when CUDA is available, else the string "cpu"."""
        return self.torch.device("cuda") if self.torch.cuda.is_available() else "cpu"

    @property
    def cuda(self) -> bool:
        """Whether a CUDA device is available."""
        return self.getDevice() != "cpu"
