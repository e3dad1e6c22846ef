"""`slicer.ScriptedLoadableModule` of the double: the four base classes of a scripted module, behaving as
Slicer's ScriptedLoadableModule.py does on slicer-core's real scene and Slicer's own slicer/util.py.

Where Slicer relies on what slicer-core lacks (qMRMLWidget, ctk widgets, the module manager), the double
uses plain Qt and says so. A widget made without a parent (as tests do) is built in a `_ModuleWidgetParent`
that also plays the module panel: tests drive it as Slicer's panel does, with `widget.parent.enter()` /
`widget.parent.exit()`, which set the read-only `widget.parent.isEntered` and call the widget's
`enter()` / `exit()` hooks.
"""
from __future__ import annotations

import importlib
import logging
import os
import unittest
from typing import TYPE_CHECKING

import qt
import slicer
from slicer.i18n import tr as _

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["ScriptedLoadableModule", "ScriptedLoadableModuleWidget", "ScriptedLoadableModuleLogic",
           "ScriptedLoadableModuleTest"]

_PARAMETER_NODE_CLASS = "vtkMRMLScriptedModuleNode"


class ScriptedLoadableModule:
    """The module object (`<Name>`): default metadata on `parent`, icon, self-test registration."""

    def __init__(self, parent) -> None:
        """`parent` stands for the qSlicerScriptedLoadableModule: it must have a `path` (the module's .py
        file), from which the icon and `resourcePath` are found."""
        super().__init__()
        self.parent = parent
        self.moduleName = type(self).__name__
        self._setDefaultMetadata(parent)
        self._setIcon(parent)
        # SelfTests may load after this module: create the registry when missing
        if not hasattr(slicer, "selfTests"):
            slicer.selfTests = {}
        slicer.selfTests[self.moduleName] = self.runTest

    @staticmethod
    def _setDefaultMetadata(parent) -> None:
        """Template defaults, which every module is expected to replace (Slicer's generic test checks)."""
        parent.title = ""
        parent.categories = []
        parent.dependencies = []
        parent.contributors = ["Andras Lasso (PerkLab, Queen's University), Steve Pieper (Isomics)"]
        parent.helpText = _("\nThis module was made from a template; its help text has not been written yet.\n")
        parent.acknowledgementText = _("\nSupported by NA-MIC, NAC, BIRN, NCIGT and the Slicer Community "
                                       "(see {link}).\n").format(
            link='<a href="https://www.slicer.org">https://www.slicer.org</a>')

    def _setIcon(self, parent) -> None:
        """Resources/Icons/<Name>.svg, else .png, beside the module file; no icon when neither exists."""
        iconFolder = os.path.join(os.path.dirname(parent.path), "Resources", "Icons")
        for extension in (".svg", ".png"):
            iconPath = os.path.join(iconFolder, self.moduleName + extension)
            if os.path.isfile(iconPath):
                parent.icon = qt.QIcon(iconPath)
                return

    def resourcePath(self, filename: str) -> str:
        """Absolute path of `filename` in the module's Resources folder."""
        return os.path.join(os.path.dirname(self.parent.path), "Resources", filename)

    def getDefaultModuleDocumentationLink(self, docPage: str | None = None) -> str:
        """An HTML paragraph linking the module's page in the documentation of this Slicer version."""
        url = (slicer.app.documentationBaseUrl + docPage if docPage
               else slicer.app.moduleDocumentationUrl(self.moduleName))
        text = _("For more information, see the {url_start}online documentation{url_end}.")
        return "<p>" + text.format(url_start=f'<a href="{url}">', url_end="</a>") + "</p>"

    def runTest(self, msec: int = 100, **kwargs) -> None:
        """Reload-and-Test: run `<Name>Test().runTest(**kwargs)` from the module's file, messages shown
        `msec` ms; a missing test class is a failure."""
        module = importlib.import_module(self.__module__)
        className = self.moduleName + "Test"
        if not hasattr(module, className):
            raise AssertionError(f"Test case class not found: {self.__module__}.{className} ")
        testCase = getattr(module, className)()
        testCase.messageDelay = msec
        testCase.runTest(**kwargs)


class _ModuleWidgetParent(qt.QWidget):
    """The parent a widget builds when given none. In Slicer that is a qMRMLWidget (a QWidget holding a
    scene); this one also has what the module panel (qSlicerScriptedLoadableModuleWidget) adds, so that
    tests can enter and leave the module as Slicer does: read-only `isEntered`, `moduleName`, and
    `enter()` / `exit()` which set `isEntered` and then call the widget's hook if it defines one."""

    def __init__(self, moduleWidget: ScriptedLoadableModuleWidget | None = None) -> None:
        super().__init__()
        self._moduleWidget = moduleWidget  # the module panel makes itself first, then the widget (see slicer_double)
        self._scene = None
        self._entered = False

    @property
    def isEntered(self) -> bool:
        return self._entered

    @property
    def moduleName(self) -> str:
        return self._moduleWidget.moduleName

    def enter(self) -> None:
        self._entered = True
        self._callHook("enter")

    def exit(self) -> None:
        self._entered = False
        self._callHook("exit")

    def _callHook(self, name: str) -> None:
        """Call the Python widget's method if it has one, as the C++ panel does (hooks are optional)."""
        hook = getattr(self._moduleWidget, name, None)
        if callable(hook):
            hook()

    def setMRMLScene(self, scene) -> None:
        self._scene = scene

    def mrmlScene(self):
        return self._scene


class ScriptedLoadableModuleWidget:
    """The module's GUI (`<Name>Widget`): `self.parent` (a QWidget), its `self.layout`, `setup()`."""

    def __init__(self, parent=None) -> None:
        """Without `parent`, build a parent widget with a vertical layout and the scene, run `setup()` and
        show it (the caller deletes it with `widget.parent.deleteLater()`); with one, use its layout."""
        super().__init__()
        self.moduleName = type(self).__name__.removesuffix("Widget")  # GDSegmentWidget -> GDSegment
        self.developerMode = slicer.util.settingsValue("Developer/DeveloperMode", False,
                                                       converter=slicer.util.toBool)
        if parent:
            self.parent = parent
        else:
            self.parent = _ModuleWidgetParent(self)
            self.parent.setLayout(qt.QVBoxLayout())
            self.parent.setMRMLScene(slicer.mrmlScene)
        self.layout = self.parent.layout()
        if not parent:
            self.setup()
            self.parent.show()
        # Slicer also connects the module manager's moduleAboutToBeUnloaded(QString) to cleanup(); slicer-core
        # has no module manager, so whoever unloads the module calls cleanup() itself.

    def resourcePath(self, filename: str) -> str:
        """Absolute path of `filename` in the module's Resources folder. Slicer finds the module file with
        slicer.util.modulePath(moduleName); the double takes the file defining this widget class, which
        is the same file for a scripted module."""
        moduleFile = importlib.import_module(type(self).__module__).__file__
        return os.path.join(os.path.dirname(moduleFile), "Resources", filename)

    def cleanup(self) -> None:
        """Hook: release observers and timers before the module is unloaded."""

    def setup(self) -> None:
        """Hook: build the GUI. The base adds only the developer section."""
        self.setupDeveloperSection()

    def setupDeveloperSection(self) -> None:
        """The "Reload & Test" section, in developer mode only (Developer/DeveloperMode setting). Slicer puts
        it in a ctkCollapsibleButton; slicer-core has no ctk, so it is a QGroupBox here."""
        if not self.developerMode:
            return
        self.reloadCollapsibleButton = qt.QGroupBox("Reload && Test")
        self.layout.addWidget(self.reloadCollapsibleButton)
        self.reloadButton = self._button("Reload", "Reload this module.", self.onReload)
        self._setupTestMenu()
        # Opening an editor is left out of the double: the button exists, unconnected
        self.editSourceButton = self._button("Edit", "Edit the module's source code.")
        self.editModuleUiButton = None
        moduleUi = self.resourcePath(f"UI/{self.moduleName}.ui")
        if os.path.isfile(moduleUi):
            self.editModuleUiButton = self._button("Edit UI", "Edit the module's .ui file.",
                                                   lambda: slicer.util.startQtDesigner(moduleUi))
        self.restartButton = self._button("Restart Slicer", "Restart Slicer", slicer.util.restart)
        self._layOutDeveloperButtons()

    @staticmethod
    def _button(text: str, toolTip: str, onClick: Callable[[], object] | None = None) -> qt.QPushButton:
        button = qt.QPushButton(text)
        button.setToolTip(toolTip)
        if onClick:
            button.clicked.connect(lambda checked=False: onClick())
        return button

    def _setupTestMenu(self) -> None:
        """A tool button offering "Test" and "Reload and Test"; its default is the one last used for this
        module (setting <Name>/PreferredReloadAndTestAction), else "Reload and Test"."""
        self.reloadTestMenu = qt.QMenu(self.parent)
        self.testAction = self._action("Test", "TestAction", "Test the current module", self.onTest)
        self.reloadTestAction = self._action("Reload and Test", "ReloadTestAction",
                                             "Reload and test the current module", self.onReloadAndTest)
        self.reloadTestMenuButton = qt.QToolButton()
        self.reloadTestMenuButton.setToolTip("Test or Reload & Test")
        self.reloadTestMenuButton.setMenu(self.reloadTestMenu)
        preferred = qt.QSettings().value(f"{self.moduleName}/PreferredReloadAndTestAction",
                                         self.reloadTestAction.objectName())
        default = self.testAction if preferred == self.testAction.objectName() else self.reloadTestAction
        self.reloadTestMenuButton.setDefaultAction(default)

    def _action(self, text: str, objectName: str, statusTip: str, slot: Callable[[], None]) -> qt.QAction:
        action = qt.QAction(text, self.reloadTestMenu)
        action.setObjectName(objectName)
        action.setStatusTip(statusTip)
        action.triggered.connect(lambda checked=False: slot())
        self.reloadTestMenu.addAction(action)
        return action

    def _layOutDeveloperButtons(self) -> None:
        """One row of buttons, or two when there is an "Edit UI" button."""
        rows = [[self.reloadButton, self.reloadTestMenuButton, self.editSourceButton, self.restartButton]]
        if self.editModuleUiButton:
            rows = [[self.reloadButton, self.reloadTestMenuButton, self.restartButton],
                    [self.editSourceButton, self.editModuleUiButton]]
        form = qt.QFormLayout(self.reloadCollapsibleButton)
        for row in rows:
            rowLayout = qt.QHBoxLayout()
            for widget in row:
                rowLayout.addWidget(widget)
            form.addRow(rowLayout)

    def onReload(self) -> None:
        """Reload the module's source and rebuild its widget (slicer.util.reloadScriptedModule)."""
        print(f"\n\n{'-' * 30}\nReloading module: {self.moduleName}\n{'-' * 30}\n\n")
        slicer.util.reloadScriptedModule(self.moduleName)

    def onTest(self, **kwargs) -> None:
        """Run the module's self test (slicer.selfTests) with the user's message delay setting."""
        if hasattr(self, "reloadTestMenuButton"):
            self.reloadTestMenuButton.setDefaultAction(self.testAction)
        with slicer.util.tryWithErrorDisplay("Test failed."):
            self._runSelfTest(**kwargs)

    def onReloadAndTest(self, **kwargs) -> None:
        """`onReload()` then the self test."""
        if hasattr(self, "reloadTestMenuButton"):
            self.reloadTestMenuButton.setDefaultAction(self.reloadTestAction)
        with slicer.util.tryWithErrorDisplay("Reload and Test failed."):
            self.onReload()
            self._runSelfTest(**kwargs)

    def _runSelfTest(self, **kwargs) -> None:
        delay = int(slicer.app.userSettings().value("Developer/SelfTestDisplayMessageDelay"))
        slicer.selfTests[self.moduleName](msec=delay, **kwargs)


class ScriptedLoadableModuleLogic:
    """The module's computation (`<Name>Logic`), no GUI; keeps its parameters in the scene."""

    def __init__(self, parent=None) -> None:
        super().__init__()
        self.moduleName = type(self).__name__.removesuffix("Logic")
        # False allows several parameter nodes of this module in one scene
        self.isSingletonParameterNode = True

    def getParameterNode(self):
        """The module's parameter node in the scene, added when there is none. A singleton is found by its
        singleton tag (its ModuleName attribute, which closing the scene may drop, is restored); otherwise
        the first vtkMRMLScriptedModuleNode whose ModuleName attribute is this module's."""
        scene = slicer.mrmlScene
        if self.isSingletonParameterNode:
            node = scene.GetSingletonNode(self.moduleName, _PARAMETER_NODE_CLASS)
            if node:
                if node.GetAttribute("ModuleName") != self.moduleName:
                    node.SetAttribute("ModuleName", self.moduleName)
                return node
        else:
            node = next(iter(self.getAllParameterNodes()), None)
            if node:
                return node
        return scene.AddNode(self.createParameterNode())

    def getAllParameterNodes(self) -> list:
        """Every vtkMRMLScriptedModuleNode of the scene whose ModuleName attribute is this module's."""
        scene = slicer.mrmlScene
        nodes = (scene.GetNthNodeByClass(i, _PARAMETER_NODE_CLASS)
                 for i in range(scene.GetNumberOfNodesByClass(_PARAMETER_NODE_CLASS)))
        return [node for node in nodes if node.GetAttribute("ModuleName") == self.moduleName]

    def createParameterNode(self):
        """A new parameter node, not yet in the scene: ModuleName attribute, singleton tag when singleton,
        a name unique in the scene. None when there is no scene. Override to set default values."""
        scene = slicer.mrmlScene
        if scene is None:
            return None
        node = scene.CreateNodeByClass(_PARAMETER_NODE_CLASS)
        node.UnRegister(None)  # CreateNodeByClass hands over a reference: the Python object now owns the node
        if self.isSingletonParameterNode:
            node.SetSingletonTag(self.moduleName)
        node.SetAttribute("ModuleName", self.moduleName)
        node.SetName(scene.GenerateUniqueName(self.moduleName))
        return node


class ScriptedLoadableModuleTest(unittest.TestCase):
    """The module's self test (`<Name>Test`). ctest runs each test_* method through unittest (setUp before
    each); Reload-and-Test calls `runTest()`, which runs them all. `setUp` and `tearDown` do nothing."""

    def __init__(self, *args, **kwargs) -> None:
        self.moduleTestNames: list[str] = []
        super().__init__(*args, **kwargs)
        # unittest.TestCase does not chain __init__: initialise mixins that follow it in the MRO (without
        # arguments, as object's signature)
        super(unittest.TestCase, self).__init__()
        self.enableScreenshots = False
        self.screenshotScaleFactor = 1.0
        if not self.moduleTestNames:
            self.moduleTestNames = [name for name in dir(self) if "test" in name and callable(getattr(self, name))]

    def delayDisplay(self, message: str, requestedDelay: int | None = None, msec: int | None = None) -> None:
        """Show `message` for a while (slicer.util.delayDisplay). The delay is the one `runTest(msec)` of the
        module set, else `msec`, else `requestedDelay`, else 100 ms."""
        delays = (getattr(self, "messageDelay", None), msec, requestedDelay, 100)
        slicer.util.delayDisplay(message, next(d for d in delays if d is not None))

    def takeScreenshot(self, name: str, description: str, type: int = -1) -> None:
        """Show `description`; with `enableScreenshots`, Slicer then grabs a view into an annotation
        snapshot, which needs the main window's views: the double cannot."""
        self.delayDisplay(description)
        if self.enableScreenshots:
            raise RuntimeError(f"Screenshot '{name}': slicer-core has no views to grab")

    def setUp(self) -> None:
        """Runs before each test method (Slicer's does nothing; the module template's clears the scene)."""

    def tearDown(self) -> None:
        """Runs after each test method that passed its setUp (does nothing)."""

    def runTest(self) -> None:
        """Run every test method: setUpClass, then setUp / method / tearDown for each, then tearDownClass.
        A failure stops the run (tearDown is then not called)."""
        if not self.moduleTestNames:
            logging.warning("No test is defined in " + type(self).__name__)
            return
        self.setUpClass()
        for name in self.moduleTestNames:
            self.setUp()
            logging.info(f"Running {name}")
            getattr(self, name)()
            self.tearDown()
        self.tearDownClass()
