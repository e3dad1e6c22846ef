"""GDRegister: gradient-descent image registration of two volume nodes (backend: gdbackend.register)."""

from pathlib import Path
from typing import Annotated, Optional, Union

import numpy as np
import qt
import slicer
import vtk
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.parameterNodeWrapper import Choice, WithinRange, parameterNodeWrapper
from slicer.ScriptedLoadableModule import (
    ScriptedLoadableModule,
    ScriptedLoadableModuleLogic,
    ScriptedLoadableModuleTest,
    ScriptedLoadableModuleWidget,
)
from slicer.util import VTKObservationMixin

from gdbackend.errors import InputError
from gdbackend.register.options import (
    DEFAULTS,
    INITIALISATIONS,
    MAX_LEVELS,
    METRICS,
    OPTIMIZERS,
    OUTPUT_TYPES,
    SEARCH_WHOLE_DEG,
    RegistrationOptions,
)
from gdbackend.volume import Volume
from GDImagingLib import jobs, nodes, settings
from GDImagingLib.jobs import IMAGE_SUFFIX, jobFolder, runJobHere, startJob, writeSpec
from GDRegisterLib import presetchoice

# the panel's choices of stage lists, each checked by RegistrationOptions like any other
TRANSFORMS = ["rigid", "affine", "rigid,affine", "rigid,affine,bspline", "affine,dense", "translation", "similarity",
              "bspline", "dense"]
DEVICES = ["auto", "cpu", "cuda"]
DEVICE_SETTING = "register/device"   # kept across sessions (GDImagingLib.settings)
# the node class of each output type (RegistrationOptions.result_type()) and the job's transform file
RESULT_NODES = {"linear": ("vtkMRMLLinearTransformNode", "transform.tfm"),
                "bspline": ("vtkMRMLBSplineTransformNode", "transform.h5"),
                "displacement": ("vtkMRMLGridTransformNode", "transform.h5")}


class GDRegister(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("GD Register")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "Registration")]
        self.parent.dependencies = []
        self.parent.contributors = ["GDImaging developers (GDImaging)"]
        self.parent.helpText = _(
            "Registers a moving volume onto a fixed one by gradient descent (rigid, affine, B-spline or dense "
            "transforms; MSE, NCC, local NCC or mutual information), in a background process. The result is a "
            "linear or grid transform node that places the moving volume on the fixed one, and optionally the "
            "resampled moving volume. See docs/slicer.md in the GDImaging repository.")
        self.parent.acknowledgementText = _(
            "GDImaging computes with PyTorch, MONAI and SimpleITK. The registration examples come from the "
            "Insight Toolkit.")


@parameterNodeWrapper
class GDRegisterParameterNode:
    fixedVolume: slicer.vtkMRMLScalarVolumeNode
    movingVolume: slicer.vtkMRMLScalarVolumeNode
    fixedMask: slicer.vtkMRMLLabelMapVolumeNode
    movingMask: slicer.vtkMRMLLabelMapVolumeNode
    initialTransform: slicer.vtkMRMLLinearTransformNode
    initialize: Annotated[str, Choice(list(INITIALISATIONS))] = DEFAULTS["initialize"]
    searchRotation: bool = False
    transform: Annotated[str, Choice(TRANSFORMS)] = "rigid"
    metric: Annotated[str, Choice(list(METRICS))] = DEFAULTS["metric"]
    optimizer: Annotated[str, Choice(list(OPTIMIZERS))] = DEFAULTS["optimizer"]
    levels: Annotated[int, WithinRange(1, MAX_LEVELS)] = DEFAULTS["levels"]
    iterations: Annotated[int, WithinRange(1, 10000)] = 200
    learningRate: Annotated[float, WithinRange(0.0, 100.0)] = 0.0
    device: Annotated[str, Choice(DEVICES)] = DEFAULTS["device"]
    outputType: Annotated[str, Choice(list(OUTPUT_TYPES))] = DEFAULTS["output_type"]
    # Optional: empty until the first result (Slicer's wrapper refuses a None default for a union without None)
    outputTransform: Optional[Union[slicer.vtkMRMLLinearTransformNode, slicer.vtkMRMLBSplineTransformNode,
                                    slicer.vtkMRMLGridTransformNode]]
    outputVolume: slicer.vtkMRMLScalarVolumeNode
    showResult: bool = True


class GDRegisterWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    def __init__(self, parent=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None
        self.runner = None

    def setup(self) -> None:
        from GDImagingLib.running import JobController
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/GDRegister.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)
        self.logic = GDRegisterLogic()
        self.runner = JobController(self.ui.applyButton, self.ui.progressBar, self.ui.statusLabel, _("Apply"),
                                    chartTitle=_("Registration loss"), onFinished=self._checkCanApply,
                                    log=self.ui.logTextEdit.appendPlainText)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)
        self.ui.applyButton.connect("clicked(bool)", self.onApplyButton)
        presetchoice.fillComboBox(self.ui.presetComboBox)
        self.ui.presetComboBox.connect("activated(int)", self.onPresetChosen)
        self.ui.savePresetButton.connect("clicked(bool)", self.onSavePresetButton)
        self.initializeParameterNode()

    def cleanup(self) -> None:
        if self.runner:
            self.runner.cancel()
        self.setParameterNode(None)  # the panel's widgets go with the module: unbind them from the node
        self.removeObservers()
        jobs.closeSpareProcess()

    def enter(self) -> None:
        self.initializeParameterNode()
        jobs.readySpareProcess("register")  # torch is imported while the user chooses the volumes

    def exit(self) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self._parameterNodeGuiTag = None
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._checkCanApply)

    def onSceneStartClose(self, caller, event) -> None:
        self.runner.cancel()
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event) -> None:
        if self.parent.isEntered:
            self.initializeParameterNode()

    def initializeParameterNode(self) -> None:
        parameterNode = self.logic.getParameterNode()
        if not parameterNode.fixedVolume:   # a new scene: the user's device, as in their last session
            parameterNode.fixedVolume = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLScalarVolumeNode")
            device = settings.value(DEVICE_SETTING, parameterNode.device)
            parameterNode.device = device if device in DEVICES else parameterNode.device
        self.setParameterNode(parameterNode)

    def setParameterNode(self, parameterNode) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._checkCanApply)
        self._parameterNode = parameterNode
        if self._parameterNode:
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)
            self.addObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._checkCanApply)
            self._checkCanApply()

    def onPresetChosen(self, index: int) -> None:
        name = self.ui.presetComboBox.itemData(index)
        preset = presetchoice.presets().get(name or "")
        if preset and self._parameterNode:
            for key, value in presetchoice.parameterValues(preset).items():
                setattr(self._parameterNode, key, value)

    def onSavePresetButton(self) -> None:
        title = qt.QInputDialog.getText(slicer.util.mainWindow(), _("Save preset"),
                                        _("Name of the preset (the options shown are kept):"))
        if title:
            self.savePreset(title)

    def savePreset(self, title: str) -> None:
        """Keep the options shown as the user's preset `title`, listed (and chosen) from now on."""
        with slicer.util.tryWithErrorDisplay(_("The preset was not saved."), waitCursor=True):
            name = presetchoice.savePreset(title, presetchoice.presetOptions(self._parameterNode))
            presetchoice.fillComboBox(self.ui.presetComboBox, name)

    def _checkCanApply(self, caller=None, event=None) -> None:
        reason = "" if self.runner.running else self.logic.whyNot(self._parameterNode)
        self.ui.applyButton.setEnabled(not reason)
        self.ui.applyButton.setToolTip(reason or _("Register the moving volume onto the fixed one."))
        self.ui.reasonLabel.setText(reason)
        self.ui.reasonLabel.setVisible(bool(reason))

    def _inputWidgets(self) -> list:
        """The widgets of every option: locked while a job runs, whose inputs were fixed when it started."""
        return [w for name, w in vars(self.ui).items() if name != "applyButton" and hasattr(w, "property")
                and w.property("SlicerParameterName")]

    def onApplyButton(self) -> None:
        if self.runner.running:
            self.runner.cancel()
            return
        from GDImagingLib.dependencies import ensureDependencies
        with slicer.util.tryWithErrorDisplay(_("Failed to start the registration."), waitCursor=True):
            if not ensureDependencies(self.resourcePath("requirements.txt"), "GDRegister"):
                return
            p = self._parameterNode
            settings.setValue(DEVICE_SETTING, p.device)
            captured = {"fixedVolume": p.fixedVolume, "movingVolume": p.movingVolume,
                        "outputTransform": p.outputTransform, "outputVolume": p.outputVolume,
                        "showResult": p.showResult,
                        "movingFrame": self.logic.movingFrame(p.movingVolume, p.outputTransform, p.initialTransform)}
            spec = self.logic.prepareJob(p.fixedVolume, p.movingVolume, fixedMask=p.fixedMask,
                                         movingMask=p.movingMask, resample=p.outputVolume is not None,
                                         outputTransform=p.outputTransform,
                                         **self.logic.optionsFromParameterNode(p))
            self.runner.start(startJob(spec), lambda result: self.onJobDone(result, **captured),
                              lock=self._inputWidgets(), keep=[p.outputTransform, p.outputVolume])

    def onJobDone(self, result: dict, **captured) -> None:
        """The result onto the nodes chosen when the job started."""
        node = self.logic.applyResult(result, **captured)
        if self._parameterNode:
            self._parameterNode.outputTransform = node


class GDRegisterLogic(ScriptedLoadableModuleLogic):
    """Registration of volume nodes, usable from the Python console:

        logic = GDRegisterLogic()
        transformNode = logic.register(fixedNode, movingNode, transform="rigid", metric="mi")
    """

    def getParameterNode(self):
        return GDRegisterParameterNode(super().getParameterNode())

    @staticmethod
    def optionsFromParameterNode(p) -> dict:
        return {"transform": p.transform, "metric": p.metric, "optimizer": p.optimizer, "levels": p.levels,
                "iterations": p.iterations, "learningRate": p.learningRate, "device": p.device,
                "initialize": p.initialize, "initialTransform": p.initialTransform, "outputType": p.outputType,
                "searchRotation": p.searchRotation}

    @staticmethod
    def backendOptions(transform: str = "rigid", metric: str = DEFAULTS["metric"],
                       optimizer: str = DEFAULTS["optimizer"], levels: int = DEFAULTS["levels"], iterations: int = 200,
                       learningRate: float = 0.0, device: str = DEFAULTS["device"],
                       outputType: str = DEFAULTS["output_type"], initialTransform=None, searchRotation: bool = False,
                       **backendOptions) -> dict:
        """The register job's options from the panel's (learningRate 0: the optimiser's own; an initial transform
        replaces the initialisation; searchRotation: search the starting rotation in 3D too, as 2D always does)."""
        options = {"transform": [s for s in transform.split(",") if s], "metric": metric, "optimizer": optimizer,
                   "levels": levels, "iterations": iterations, "device": device, "output_type": outputType,
                   **backendOptions}
        if learningRate > 0:
            options["learning_rate"] = learningRate
        if searchRotation:
            options["rotation_search"] = SEARCH_WHOLE_DEG
        if initialTransform is not None:
            options["initialize"] = "none"
        return options

    def whyNot(self, p) -> str:
        """Why the panel cannot register now ("" when it can): missing volumes, or options the backend refuses
        (RegistrationOptions' own message, e.g. a linear output type after a bspline stage)."""
        if not (p and p.fixedVolume and p.movingVolume and p.fixedVolume != p.movingVolume):
            return _("Select two different volumes.")
        try:
            RegistrationOptions.from_values(self.backendOptions(**self.optionsFromParameterNode(p)))
        except InputError as e:
            return str(e)
        return ""

    @staticmethod
    def movingFrame(movingVolume, outputTransform=None, initialTransform=None) -> np.ndarray:
        """4x4 RAS matrix from the moving volume's own frame to the frame it is registered in: the world as the
        views show it (through its parent transforms), except under `outputTransform` itself (a run again: its
        own frame); a linear `initialTransform` on top, unless the volume is already under it."""
        parent = movingVolume.GetParentTransformNode()
        frame = np.eye(4) if parent in (None, outputTransform) else nodes.toWorldMatrix(movingVolume)
        if initialTransform is not None and not _isAncestor(initialTransform, movingVolume):
            matrix = vtk.vtkMatrix4x4()
            initialTransform.GetMatrixTransformToWorld(matrix)
            frame = slicer.util.arrayFromVTKMatrix(matrix) @ frame
        return frame

    def prepareJob(self, fixedVolume, movingVolume, fixedMask=None, movingMask=None, resample: bool = False,
                   outputTransform=None, initialTransform=None, **panelOptions) -> Path:
        """Write the inputs and a job spec into a new temporary folder; returns the spec path.

        `panelOptions`: those of backendOptions() (transform "rigid,affine", metric, ..., outputType), or any
        other RegistrationOptions field by its own name. The images are registered as the views show them,
        through their (linear) parent transforms, except a moving volume under `outputTransform` itself (a run
        again), which starts from its own frame. A linear `initialTransform` places the moving volume (and its
        mask) before the registration starts, which then starts from it (`initialize` none).
        """
        options = self.backendOptions(initialTransform=initialTransform, **panelOptions)
        kind = RegistrationOptions.from_values(options).result_type()   # bad options stop here, with the reason
        frame = self.movingFrame(movingVolume, outputTransform, initialTransform)
        parent = movingVolume.GetParentTransformNode()
        placed = initialTransform or (parent if parent not in (None, outputTransform) else None)
        if kind != "linear" and placed is not None:
            raise InputError(f"{movingVolume.GetName()} is placed by the transform {placed.GetName()}: a {kind} "
                             "result cannot be combined with it. Harden it first (Transforms module, Harden "
                             "transform), choose no initial transform, or register with linear stages only.")
        outputs = {"transform": RESULT_NODES[kind][1]}
        if resample:
            outputs["image"] = f"resampled{IMAGE_SUFFIX}"
        folder = jobFolder("register")
        # the fixed images in the world, the moving ones in `frame`; a single slice stays a volume one voxel thick,
        # which the backend registers in its plane and answers in 3D
        files = {key: str(nodes.volumeFromNode(node, squeeze2D=False, world=True, frame=placed).write(
                     folder / f"{key}{IMAGE_SUFFIX}"))
                 for key, node, placed in (("fixed", fixedVolume, None), ("fixed_mask", fixedMask, None),
                                           ("moving", movingVolume, frame), ("moving_mask", movingMask, frame)) if node}
        return writeSpec(folder, "register", {}, options, outputs, inputFiles=files)

    def applyResult(self, result: dict, fixedVolume, movingVolume, outputTransform=None, outputVolume=None,
                    showResult: bool = True, movingFrame: np.ndarray | None = None):
        """Put a finished job's transform (and resampled image) into the scene; returns the transform node, of the
        class its output type needs (RESULT_NODES: a node chosen of another class is left as it is).

        The transform maps the fixed volume's world onto the moving volume as it was registered: the frame it
        was registered in (`movingFrame`, see movingFrame(); by default as the scene places it now), a linear
        transform it was under and an initial transform included, is composed into it, so the moving volume
        goes under the result alone and the earlier transform nodes are left as they were. The moving volume is
        placed last, once everything else has loaded; the views then show the fixed volume with the result
        over it.
        """
        path = Path(result["outputs"]["transform"])
        name = slicer.mrmlScene.GenerateUniqueName(f"{movingVolume.GetName()} to {fixedVolume.GetName()}")
        if movingFrame is None:
            movingFrame = self.movingFrame(movingVolume, outputTransform)
        kind = result["summary"]["output_type"]
        node = nodes.transformNodeOfClass(outputTransform, RESULT_NODES[kind][0], name)
        if kind == "linear":
            nodes.setLinearTransformFromITK(node, nodes.linearMatrixFromFile(path), np.linalg.inv(movingFrame))
        else:
            nodes.readTransformFile(path, node)
        if outputVolume is not None and "image" in result["outputs"]:
            nodes.updateNodeFromVolume(outputVolume, Volume.read(result["outputs"]["image"]))
            outputVolume.SetAndObserveTransformNodeID(None)  # it lies on the fixed volume's world grid
        if showResult:
            movingVolume.SetAndObserveTransformNodeID(node.GetID())
            slicer.util.setSliceViewerLayers(background=fixedVolume, foreground=outputVolume or movingVolume,
                                             foregroundOpacity=0.5, fit=True)
        return node

    def register(self, fixedVolume, movingVolume, outputTransform=None, outputVolume=None, showResult: bool = True,
                 progress=None, **options):
        """Synchronous registration in this process (console, tests); returns the transform node."""
        frame = self.movingFrame(movingVolume, outputTransform, options.get("initialTransform"))
        spec = self.prepareJob(fixedVolume, movingVolume, resample=outputVolume is not None,
                               outputTransform=outputTransform, **options)
        return runJobHere(spec, lambda result: self.applyResult(result, fixedVolume, movingVolume, outputTransform,
                                                                outputVolume, showResult, frame), progress)


def _isAncestor(transformNode, node) -> bool:
    """Whether `node` is under `transformNode`, directly or through other transforms."""
    parent = node.GetParentTransformNode()
    while parent is not None:
        if parent == transformNode:
            return True
        parent = parent.GetParentTransformNode()
    return False


class GDRegisterTest(ScriptedLoadableModuleTest):
    """Runs in Slicer (Reload and Test, or ctest: each test_* with setUp). Downloads SampleData."""

    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_rigid_registration_aligns_tumor_timepoints()
        self.setUp()
        self.test_background_job_can_be_cancelled()

    def _samples(self):
        import SampleData
        return SampleData.downloadSample("MRBrainTumor1"), SampleData.downloadSample("MRBrainTumor2")

    def test_rigid_registration_aligns_tumor_timepoints(self):
        self.delayDisplay("Rigid registration MRBrainTumor2 -> MRBrainTumor1")
        fixed, moving = self._samples()
        resampled = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "resampled")
        node = GDRegisterLogic().register(fixed, moving, outputVolume=resampled, transform="rigid",
                                          iterations=100, levels=3, metric="mse")
        self.assertEqual(node.GetClassName(), "vtkMRMLLinearTransformNode")
        self.assertEqual(moving.GetTransformNodeID(), node.GetID())
        target = nodes.volumeFromNode(fixed).array.astype(float)
        before = nodes.volumeFromNode(moving).resample_to(nodes.volumeFromNode(fixed)).array
        after = slicer.util.arrayFromVolume(resampled).astype(float)
        self.assertGreater(np.corrcoef(target.ravel(), after.ravel())[0, 1],
                           np.corrcoef(target.ravel(), before.ravel())[0, 1] + 0.02)
        self.delayDisplay("Test passed")

    def test_background_job_can_be_cancelled(self):
        self.delayDisplay("Background registration, cancelled")
        fixed, moving = self._samples()
        spec = GDRegisterLogic().prepareJob(fixed, moving, transform="affine", iterations=10000)
        job = startJob(spec)
        while job.running and job.last_progress is None:
            job.poll()
            slicer.app.processEvents()
        job.cancel()
        self.assertEqual(job.state, "cancelled")
        self.assertFalse(Path(spec).with_name("transform.tfm").exists())
        self.delayDisplay("Test passed")
