"""GDRegister: gradient-descent image registration of two volume nodes (backend: gdbackend.register)."""

from pathlib import Path
from typing import Annotated, Optional, Union

import numpy as np
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
from gdbackend.volume import Volume
from GDImagingLib import nodes
from GDImagingLib.jobs import IMAGE_SUFFIX, jobFolder, runJobHere, startJob, writeSpec

TRANSFORMS = ["rigid", "affine", "rigid,affine", "rigid,affine,bspline", "affine,dense", "translation", "similarity",
              "bspline", "dense"]
METRICS = ["mse", "ncc", "lncc", "mi"]
OPTIMIZERS = ["sgd", "adam", "gd"]
DEVICES = ["auto", "cpu", "cuda"]
DEFORMABLE = ("bspline", "dense")


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
    transform: Annotated[str, Choice(TRANSFORMS)] = "rigid"
    metric: Annotated[str, Choice(METRICS)] = "mse"
    optimizer: Annotated[str, Choice(OPTIMIZERS)] = "sgd"
    levels: Annotated[int, WithinRange(1, 6)] = 3
    iterations: Annotated[int, WithinRange(1, 10000)] = 200
    learningRate: Annotated[float, WithinRange(0.0, 100.0)] = 0.0
    device: Annotated[str, Choice(DEVICES)] = "auto"
    # Optional: empty until the first result (Slicer's wrapper refuses a None default for a union without None)
    outputTransform: Optional[Union[slicer.vtkMRMLLinearTransformNode, slicer.vtkMRMLGridTransformNode]]
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
                                    chartTitle=_("Registration loss"), onFinished=self._checkCanApply)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)
        self.ui.applyButton.connect("clicked(bool)", self.onApplyButton)
        self.initializeParameterNode()

    def cleanup(self) -> None:
        if self.runner:
            self.runner.cancel()
        self.setParameterNode(None)  # the panel's widgets go with the module: unbind them from the node
        self.removeObservers()

    def enter(self) -> None:
        self.initializeParameterNode()

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
        self.setParameterNode(self.logic.getParameterNode())
        if not self._parameterNode.fixedVolume:
            self._parameterNode.fixedVolume = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLScalarVolumeNode")

    def setParameterNode(self, parameterNode) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._checkCanApply)
        self._parameterNode = parameterNode
        if self._parameterNode:
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)
            self.addObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._checkCanApply)
            self._checkCanApply()

    def _checkCanApply(self, caller=None, event=None) -> None:
        p = self._parameterNode
        ready = bool(p and p.fixedVolume and p.movingVolume and p.fixedVolume != p.movingVolume)
        self.ui.applyButton.setEnabled(ready or self.runner.running)
        self.ui.applyButton.setToolTip(_("Register the moving volume onto the fixed one.") if ready else _(
            "Select two different volumes."))

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
            captured = {"fixedVolume": p.fixedVolume, "movingVolume": p.movingVolume,
                      "outputTransform": p.outputTransform, "outputVolume": p.outputVolume,
                      "showResult": p.showResult}
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
                "iterations": p.iterations, "learningRate": p.learningRate, "device": p.device}

    def prepareJob(self, fixedVolume, movingVolume, fixedMask=None, movingMask=None, resample: bool = False,
                   transform: str = "rigid", metric: str = "mse", optimizer: str = "sgd", levels: int = 3,
                   iterations: int = 200, learningRate: float = 0.0, device: str = "auto", outputTransform=None,
                   **backendOptions) -> Path:
        """Write the inputs and a job spec into a new temporary folder; returns the spec path.

        The images are registered as the views show them, through their (linear) parent transforms, except a
        moving volume under `outputTransform` itself (a run again), which starts from its own frame.
        """
        stages = [s for s in transform.split(",") if s]
        options = {"transform": stages, "metric": metric, "optimizer": optimizer, "levels": levels,
                   "iterations": iterations, "device": device, **backendOptions}
        if learningRate > 0:
            options["learning_rate"] = learningRate
        deformable = stages[-1] in DEFORMABLE
        rerun = outputTransform is not None and movingVolume.GetParentTransformNode() == outputTransform
        if deformable and movingVolume.GetParentTransformNode() is not None and not rerun:
            raise InputError(f"{movingVolume.GetName()} is under the transform "
                             f"{movingVolume.GetParentTransformNode().GetName()}: a deformable result cannot be "
                             "combined with it. Harden it first (Transforms module, Harden transform), or register "
                             "with a linear transform.")
        outputs = {"transform": "transform.h5" if deformable else "transform.tfm"}
        if resample:
            outputs["image"] = f"resampled{IMAGE_SUFFIX}"
        inputs = {"fixed": fixedVolume, "moving": movingVolume, "fixed_mask": fixedMask, "moving_mask": movingMask}
        world = {"fixed", "fixed_mask"} | (set() if rerun else {"moving", "moving_mask"})
        return writeSpec(jobFolder("register"), "register", inputs, options, outputs, worldInputs=world)

    def applyResult(self, result: dict, fixedVolume, movingVolume, outputTransform=None, outputVolume=None,
                    showResult: bool = True):
        """Put a finished job's transform (and resampled image) into the scene; returns the transform node.

        The transform maps the fixed volume's world onto the moving volume as it was registered: a linear
        transform the moving volume was under is composed into it, so the moving volume goes under the result
        alone and its earlier transform node is left as it was. The moving volume is placed last, once
        everything else has loaded.
        """
        path = Path(result["outputs"]["transform"])
        name = slicer.mrmlScene.GenerateUniqueName(f"{movingVolume.GetName()} to {fixedVolume.GetName()}")
        earlier = movingVolume.GetParentTransformNode()
        toMovingFrame = np.eye(4) if earlier in (None, outputTransform) else np.linalg.inv(
            nodes.toWorldMatrix(movingVolume))
        if path.suffix == ".tfm":
            node = nodes.transformNodeOfClass(outputTransform, "vtkMRMLLinearTransformNode", name)
            nodes.setLinearTransformFromITK(node, nodes.linearMatrixFromFile(path), toMovingFrame)
        else:
            node = nodes.transformNodeOfClass(outputTransform, "vtkMRMLGridTransformNode", name)
            nodes.readTransformFile(nodes.displacementFieldFile3D(path, nodes.sliceZ(fixedVolume)), node)
        if outputVolume is not None and "image" in result["outputs"]:
            nodes.updateNodeFromVolume(outputVolume, Volume.read(result["outputs"]["image"]),
                                       nodes.sliceZ(fixedVolume))
            outputVolume.SetAndObserveTransformNodeID(None)  # it lies on the fixed volume's world grid
        if showResult:
            movingVolume.SetAndObserveTransformNodeID(node.GetID())
        return node

    def register(self, fixedVolume, movingVolume, outputTransform=None, outputVolume=None, showResult: bool = True,
                 progress=None, **options):
        """Synchronous registration in this process (console, tests); returns the transform node."""
        spec = self.prepareJob(fixedVolume, movingVolume, resample=outputVolume is not None, **options)
        return runJobHere(spec, lambda result: self.applyResult(result, fixedVolume, movingVolume, outputTransform,
                                                                outputVolume, showResult), progress)


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
