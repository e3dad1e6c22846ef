"""The doubles in slicer_double/slicer_python (slicer.ScriptedLoadableModule, slicer.i18n,
slicer.packaging) and slicer_double/modules/PyTorchUtils.py behave as Slicer's sources do, on the real
slicer package of slicer-core."""
from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap
import types
import unittest
from pathlib import Path

import pytest

DOUBLE = Path(__file__).resolve().parent / "slicer_double"
SLICER_PYTHON = DOUBLE / "slicer_python"

DEMO_MODULE = '''
import slicer
from slicer.ScriptedLoadableModule import *


class Demo(ScriptedLoadableModule):
    pass


class Lonely(ScriptedLoadableModule):
    """A module without a LonelyTest class."""


class DemoWidget(ScriptedLoadableModuleWidget):
    def setup(self):
        ScriptedLoadableModuleWidget.setup(self)
        self.hooks = []

    def enter(self):
        self.hooks.append(("enter", self.parent.isEntered))

    def exit(self):
        self.hooks.append(("exit", self.parent.isEntered))


class DemoLogic(ScriptedLoadableModuleLogic):
    pass


class DemoTest(ScriptedLoadableModuleTest):
    calls = []

    def setUp(self):
        DemoTest.calls.append("setUp")

    def test_first(self):
        DemoTest.calls.append(("test_first", self.messageDelay))
        self.delayDisplay("first")

    def test_second(self):
        DemoTest.calls.append("test_second")
'''


@pytest.fixture(scope="module")
def environment():
    """The real slicer package set up as Slicer's application (slicer_double.install()): the double's
    submodules on slicer.__path__, slicer.app in testing mode with Slicer's settings, `qt`, SampleData and
    PyTorchUtils on sys.path."""
    import slicer_double
    return slicer_double.install()


@pytest.fixture
def slicer(environment, monkeypatch):
    """A cleared scene, empty settings and recordings for each test."""
    import slicer_double
    environment.app.userSettings().clear()
    slicer_double.install()  # clears the scene, as a Slicer test's setUp does
    monkeypatch.setattr(environment, "selfTests", {})
    yield environment
    packaging = sys.modules.get("slicer.packaging")
    if packaging:
        packaging._installRequests.clear()
        packaging._uninstallRequests.clear()
    if "PyTorchUtils" in sys.modules:
        sys.modules["PyTorchUtils"]._installRequests.clear()


@pytest.fixture
def demo(slicer, tmp_path, monkeypatch):
    """A scripted module Demo.py in its own folder, with Resources/Icons/Demo.png, imported as Slicer does."""
    from PySide6.QtGui import QImage
    (tmp_path / "Demo.py").write_text(DEMO_MODULE)
    (tmp_path / "Resources" / "Icons").mkdir(parents=True)
    QImage(4, 4, QImage.Format.Format_RGB32).save(str(tmp_path / "Resources" / "Icons" / "Demo.png"))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "Demo", raising=False)
    module = importlib.import_module("Demo")
    module.DemoTest.calls.clear()
    return module


# ------------------------------------------------------------------ ScriptedLoadableModule
def test_module_sets_default_metadata_icon_and_registers_its_self_test(slicer, demo):
    parent = types.SimpleNamespace(path=demo.__file__)
    module = demo.Demo(parent)
    assert module.moduleName == "Demo" and module.parent is parent
    assert parent.title == "" and parent.categories == [] and parent.dependencies == []
    assert parent.contributors and parent.helpText.strip() and parent.acknowledgementText.strip()
    assert not parent.icon.isNull()
    assert slicer.selfTests["Demo"] == module.runTest
    assert module.resourcePath("UI/Demo.ui") == str(Path(demo.__file__).parent / "Resources" / "UI" / "Demo.ui")


def test_self_test_runs_every_test_method_after_setUp_with_the_delay(slicer, demo):
    demo.Demo(types.SimpleNamespace(path=demo.__file__))
    slicer.selfTests["Demo"](msec=7)
    assert demo.DemoTest.calls == ["setUp", ("test_first", 7), "setUp", "test_second"]


def test_self_test_without_its_test_class_fails(slicer, demo):
    module = demo.Lonely(types.SimpleNamespace(path=demo.__file__))
    with pytest.raises(AssertionError, match="LonelyTest"):
        module.runTest()


def test_test_case_runs_under_unittest_as_ctest_does(slicer, demo):
    suite = unittest.TestLoader().loadTestsFromTestCase(demo.DemoTest)
    assert suite.countTestCases() == 2
    assert demo.DemoTest("test_second").moduleTestNames == ["test_first", "test_second"]


def test_base_test_setUp_leaves_the_scene_alone(slicer):
    from slicer.ScriptedLoadableModule import ScriptedLoadableModuleTest
    slicer.mrmlScene.AddNewNodeByClass("vtkMRMLScalarVolumeNode")
    ScriptedLoadableModuleTest().setUp()
    assert slicer.mrmlScene.GetNumberOfNodesByClass("vtkMRMLScalarVolumeNode") == 1


# ------------------------------------------------------------------ ScriptedLoadableModuleLogic
def test_parameter_node_is_the_scenes_singleton(slicer, demo):
    node = demo.DemoLogic().getParameterNode()
    assert node.GetClassName() == "vtkMRMLScriptedModuleNode"
    assert node.GetAttribute("ModuleName") == "Demo" and node.GetSingletonTag() == "Demo"
    assert node.GetName() == "Demo"
    assert slicer.mrmlScene.GetSingletonNode("Demo", "vtkMRMLScriptedModuleNode") is node
    node.RemoveAttribute("ModuleName")  # as closing the scene may do: restored
    assert demo.DemoLogic().getParameterNode() is node and node.GetAttribute("ModuleName") == "Demo"
    # one Demo node (other modules' singletons outlive a scene close, Clear(0), as in Slicer)
    assert [n.GetAttribute("ModuleName") for n in slicer.util.getNodesByClass("vtkMRMLScriptedModuleNode")].count(
        "Demo") == 1


def test_non_singleton_parameter_nodes_are_separate(slicer, demo):
    logic = demo.DemoLogic()
    logic.isSingletonParameterNode = False
    first = logic.getParameterNode()
    second = slicer.mrmlScene.AddNode(logic.createParameterNode())
    assert first is not second and first.GetName() != second.GetName()
    assert first.GetSingletonTag() is None and second.GetAttribute("ModuleName") == "Demo"
    assert logic.getParameterNode() is first
    assert logic.getAllParameterNodes() == [first, second]


# ------------------------------------------------------------------ ScriptedLoadableModuleWidget
def test_widget_without_parent_builds_its_own_parent_and_layout(slicer, demo):
    import qt
    widget = demo.DemoWidget()
    assert widget.moduleName == "Demo"
    assert isinstance(widget.parent, qt.QWidget) and isinstance(widget.layout, qt.QVBoxLayout)
    assert widget.layout is widget.parent.layout()
    assert widget.parent.mrmlScene() is slicer.mrmlScene and widget.parent.isVisible()
    assert widget.hooks == [] and not widget.developerMode and not hasattr(widget, "reloadButton")
    assert widget.resourcePath("UI/Demo.ui") == str(Path(demo.__file__).parent / "Resources" / "UI" / "Demo.ui")
    widget.parent.deleteLater()


def test_panel_enter_and_exit_set_isEntered_then_call_the_hooks(slicer, demo):
    widget = demo.DemoWidget()
    assert widget.parent.isEntered is False
    widget.parent.enter()
    widget.parent.exit()
    assert widget.hooks == [("enter", True), ("exit", False)]
    with pytest.raises(AttributeError):
        widget.parent.isEntered = True  # read-only, as the Qt property
    widget.parent.deleteLater()


def test_widget_with_parent_uses_its_layout_and_waits_for_setup(slicer, demo):
    import qt
    parent = qt.QWidget()
    parent.setLayout(qt.QVBoxLayout())
    widget = demo.DemoWidget(parent)
    assert widget.parent is parent and widget.layout is parent.layout()
    assert not hasattr(widget, "hooks")  # the module panel calls setup(), not the constructor


def test_developer_mode_adds_the_reload_and_test_section(slicer, demo):
    import qt
    qt.QSettings().setValue("Developer/DeveloperMode", "true")
    qt.QSettings().setValue("Demo/PreferredReloadAndTestAction", "TestAction")
    widget = demo.DemoWidget()
    assert widget.developerMode and widget.layout.count() == 1
    assert widget.layout.itemAt(0).widget() is widget.reloadCollapsibleButton
    assert widget.reloadTestMenuButton.defaultAction() is widget.testAction
    assert widget.editModuleUiButton is None  # no Resources/UI/Demo.ui
    widget.parent.deleteLater()


# ------------------------------------------------------------------ slicer.i18n
def test_tr_and_translate_return_the_text_without_a_translator(slicer):
    from slicer.i18n import getContext, tr, translate
    assert tr("Segment {count} volumes") == "Segment {count} volumes"
    assert translate("qSlicerAbstractCoreModule", "Segmentation") == "Segmentation"
    assert getContext(__file__) == "test_double_scripted"


def test_tr_refuses_a_translation_that_changes_placeholders(slicer, monkeypatch):
    from slicer.i18n import tr
    monkeypatch.setattr(slicer.app, "translate", lambda context, text: "supprimer {compter} fichiers")
    assert tr("delete {count} files") == "delete {count} files"


# ------------------------------------------------------------------ slicer.packaging
def test_packaging_is_no_attribute_of_slicer_until_imported():
    code = textwrap.dedent(f"""
        import slicer
        slicer.__path__.append({str(SLICER_PYTHON)!r})
        before = hasattr(slicer, "packaging")
        import slicer.packaging
        print(before, hasattr(slicer, "packaging"), slicer.packaging.__file__)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "True", str(SLICER_PYTHON / "packaging.py")]


@pytest.fixture
def fake_distributions(monkeypatch):
    """gdfake 1.0 with extras x (gddep>=1, installed) and y (gdabsent, not installed)."""
    versions = {"gdfake": "1.0", "gddep": "2.0"}

    def version(name):
        if name not in versions:
            raise importlib.metadata.PackageNotFoundError(name)
        return versions[name]

    monkeypatch.setattr(importlib.metadata, "version", version)
    monkeypatch.setattr(importlib.metadata, "requires",
                        lambda name: ['gddep>=1; extra == "x"', 'gdabsent; extra == "y"'] if name == "gdfake" else [])


def test_pip_check_versions_markers_and_extras(slicer, fake_distributions):
    from slicer.packaging import pip_check
    assert pip_check("gdfake>=1") and pip_check(["gdfake", "gddep<3"]) and pip_check("gdfake[x]")
    assert not pip_check("gdfake>=2") and not pip_check("gdfake[y]") and not pip_check("gdabsent")
    assert pip_check("gdabsent; python_version < '3'")  # not for this environment: nothing to install


def test_pip_ensure_in_testing_mode_installs_nothing(slicer, fake_distributions, monkeypatch):
    import slicer.packaging
    monkeypatch.setattr(slicer.util, "confirmOkCancelDisplay", lambda *a, **k: pytest.fail("asked"))
    assert slicer.packaging.pip_ensure(["gdabsent>=1"], skip_packages=["torch"]) is None
    assert slicer.packaging._installRequests == []


@pytest.fixture
def user_answers(slicer, monkeypatch):
    """Outside testing mode; the questions asked, answered with `user_answers.ok`."""
    monkeypatch.setattr(slicer.app, "testingEnabled", lambda: False)
    answers = types.SimpleNamespace(ok=True, asked=[])

    def confirm(text, windowTitle=None, **kwargs):
        answers.asked.append((text, windowTitle, kwargs.get("detailedText")))
        return answers.ok

    monkeypatch.setattr(slicer.util, "confirmOkCancelDisplay", confirm)
    return answers


def test_pip_ensure_asks_then_installs_the_missing_minus_skip_packages(slicer, fake_distributions, user_answers):
    import slicer.packaging
    wanted = ["gdfake>=1", "gdabsent>=1", "Torch>=2", "gdother[a]>=3", "gdfake[y]", "gdnever; python_version < '3'"]
    skipped = slicer.packaging.pip_ensure(wanted, skip_packages=["torch"], requester="GDSegment")
    assert skipped == ["Torch>=2"]
    assert slicer.packaging._installRequests == [["gdabsent>=1", "gdother[a]>=3", "gdfake[y]"]]
    [(text, title, details)] = user_answers.asked
    assert title == "GDSegment - Install Python Packages" and text.startswith("4 Python packages")
    assert details.splitlines() == ["- gdabsent>=1", "- Torch>=2", "- gdother[a]>=3", "- gdfake[y]"]


def test_pip_ensure_without_skip_packages_installs_the_missing_as_given(slicer, fake_distributions, user_answers):
    import slicer.packaging
    assert slicer.packaging.pip_ensure("gdabsent>=1 gdfake") is None
    assert slicer.packaging._installRequests == [["gdabsent>=1"]]


def test_pip_ensure_declined_raises_and_installs_nothing(slicer, fake_distributions, user_answers):
    import slicer.packaging
    user_answers.ok = False
    with pytest.raises(RuntimeError, match="declined"):
        slicer.packaging.pip_ensure(["gdabsent"])
    assert slicer.packaging._installRequests == []


def test_util_pip_helpers_reach_the_double_not_pip(slicer):
    import slicer.packaging
    slicer.util.pip_install("gda>=1 'gdb<2'", no_deps_requirements=["gdc"])
    slicer.util.pip_uninstall("gda gdb")
    assert slicer.packaging._installRequests == [["gdc", "gda>=1", "gdb<2"]]
    assert slicer.packaging._uninstallRequests == [["gda", "gdb"]]
    with pytest.raises(ValueError):
        slicer.packaging.pip_install("gda", skip_packages=["gdb"], blocking=False)


def test_load_requirements_skips_comments_and_options(slicer, tmp_path):
    import slicer.packaging
    path = tmp_path / "requirements.txt"
    path.write_text("# comment\n\n--index-url https://example.org\nmonai[nibabel]>=1.3\nscipy\n")
    assert [str(r) for r in slicer.packaging.load_requirements(path)] == ["monai[nibabel]>=1.3", "scipy"]
    (tmp_path / "pyproject.toml").write_text("[tool.x]\n")
    with pytest.raises(KeyError):
        slicer.packaging.load_pyproject_dependencies(tmp_path / "pyproject.toml")


# ------------------------------------------------------------------ PyTorchUtils
def test_install_torch_records_light_the_torch_arguments(slicer):
    import PyTorchUtils
    import torch
    logic = PyTorchUtils.PyTorchUtilsLogic()
    assert logic.torchInstalled() and logic.torch is torch
    assert logic.installTorch(askConfirmation=True, torchVersionRequirement=">=2.4") is torch  # testing: no question
    assert PyTorchUtils._installRequests == [["install", "torch>=2.4", "torchvision"]]


def test_install_torch_declined_returns_None(slicer, user_answers):
    import PyTorchUtils
    user_answers.ok = False
    assert PyTorchUtils.PyTorchUtilsLogic().installTorch(askConfirmation=True, forceComputationBackend="cpu") is None
    assert "--pytorch-computation-backend=cpu" in user_answers.asked[0][0]
    assert PyTorchUtils._installRequests == []


def test_uninstall_torch_goes_through_pip_uninstall(slicer):
    import PyTorchUtils
    import slicer.packaging
    PyTorchUtils.PyTorchUtilsLogic().uninstallTorch()
    assert slicer.packaging._uninstallRequests == [["torch", "torchvision"]]
