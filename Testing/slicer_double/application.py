"""`slicer.app` of the double: the parts of qSlicerApplication that slicer-core lacks, as Slicer runs its
tests (testing mode, no main window), over the real Qt application (PySide6) and the real scene.

Every public name is a qSlicerApplication / qSlicerCoreApplication / QApplication member (api.json).
"""
from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path


def qtApplication():
    """The process's QApplication (one per process, as in Slicer)."""
    from PySide6.QtWidgets import QApplication
    return QApplication.instance() or QApplication(["Slicer"])


class Application:
    """qSlicerApplication in testing mode without a main window (`Slicer --testing --no-main-window`)."""

    applicationName = "Slicer"

    def __init__(self, scene, applicationLogic, layoutLogic) -> None:
        from PySide6.QtCore import QCoreApplication, QSettings
        self._qt = qtApplication()
        self._scene, self._logic = scene, applicationLogic
        self._layoutLogic = layoutLogic  # kept alive with the application, as the layout manager keeps it
        # qSlicerCoreApplication::temporaryPath is a per-application folder inside the system's temp folder
        self.temporaryPath = tempfile.mkdtemp(prefix="Slicer-")
        atexit.register(shutil.rmtree, self.temporaryPath, ignore_errors=True)   # a test run leaves no folders behind
        # Slicer's settings: organisation NA-MIC, INI files, so that a bare QSettings() is the user settings
        QCoreApplication.setOrganizationName("NA-MIC")
        QCoreApplication.setApplicationName(self.applicationName)
        QSettings.setDefaultFormat(QSettings.IniFormat)
        QSettings.setPath(QSettings.IniFormat, QSettings.UserScope, str(Path(self.temporaryPath) / "settings"))

    def testingEnabled(self) -> bool:
        return True

    def mrmlScene(self):
        return self._scene

    def applicationLogic(self):
        return self._logic

    def layoutManager(self):
        return None  # no main window, hence no views

    def pythonConsole(self):
        return None

    def topLevelWidgets(self) -> list:
        return []  # slicer.util.mainWindow() looks for qSlicerMainWindow here: there is none

    def processEvents(self) -> None:
        self._qt.processEvents()

    def setOverrideCursor(self, cursor) -> None:
        self._qt.setOverrideCursor(cursor)

    def restoreOverrideCursor(self) -> None:
        self._qt.restoreOverrideCursor()

    def startupEnvironment(self):
        from PySide6.QtCore import QProcessEnvironment
        return QProcessEnvironment.systemEnvironment()

    def userSettings(self):
        """Slicer's user settings (an INI file, here in the application's temporary folder)."""
        from PySide6.QtCore import QSettings
        return QSettings()

    def settings(self):
        return self.userSettings()

    def translate(self, context: str, text: str) -> str:
        from PySide6.QtCore import QCoreApplication
        return QCoreApplication.translate(context, text)

    def commandOptions(self):
        """qSlicerCommandOptions, whose testingEnabled is what testingEnabled() reports."""
        return _CommandOptions(self)


class _CommandOptions:
    def __init__(self, application: Application) -> None:
        self._application = application

    @property
    def testingEnabled(self) -> bool:  # a Q_PROPERTY: an attribute in PythonQt
        return self._application.testingEnabled()
