"""GDSegment: U-Net segmentation (train, predict, evaluate), ResNet classification and lesion detection
on volume nodes, computed by gdbackend in a background process. The computations are in
GDImagingLib.segmentlogic; this file is the panel."""

from pathlib import Path
from typing import Annotated

import numpy as np
import slicer
import vtk
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.parameterNodeWrapper import Choice, WithinRange, parameterNodeWrapper
from slicer.ScriptedLoadableModule import (
    ScriptedLoadableModule,
    ScriptedLoadableModuleTest,
    ScriptedLoadableModuleWidget,
)
from slicer.util import VTKObservationMixin

from gdbackend.train.options import OPTIMIZERS
from GDImagingLib import segmentpanel, settings, views
from GDImagingLib.jobs import closeSpareProcess, readySpareProcess, startJob
from GDImagingLib.segmentlogic import TRAIN_TASKS, TRAINING, SegmentationLogic, roiToLPSBox  # noqa: F401

NETWORKS = ["unet", "basicunet", "segresnet"]
DEVICES = ["auto", "cpu", "cuda"]
PREDICTIONS, _given = segmentpanel.PREDICTIONS, segmentpanel.given
SETTINGS_APPLIED = "GDImaging.settingsApplied"  # parameter node attribute: it started from the user's settings


class GDSegment(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("GD Segment")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "Segmentation")]
        self.parent.dependencies = []
        self.parent.contributors = ["GDImaging developers (GDImaging)"]
        self.parent.helpText = _(
            "Segment: train a U-Net on volumes and segmentations of the scene (or a folder of files), segment a "
            "volume with a model file into named, coloured segments, and measure Dice, IoU and HD95 against a "
            "reference. Classify: class probabilities of a volume or an ROI. Detect: one ROI per lesion. The "
            "computation runs in a background process, with a live loss curve. See docs/slicer.md in the "
            "GDImaging repository.")
        self.parent.acknowledgementText = _(
            "GDImaging computes with PyTorch, MONAI (networks, losses, metrics, sliding-window inference) and "
            "SimpleITK.")


@parameterNodeWrapper
class GDSegmentParameterNode:
    segmentVolume: slicer.vtkMRMLScalarVolumeNode
    # a model of several input channels: the volumes of its 2nd, 3rd, 4th channel (segmentVolume is the 1st)
    segmentChannel2: slicer.vtkMRMLScalarVolumeNode
    segmentChannel3: slicer.vtkMRMLScalarVolumeNode
    segmentChannel4: slicer.vtkMRMLScalarVolumeNode
    segmentAllVolumes: bool = False
    segmentFolder: Path   # or every image file of this folder, results written beside them
    segmentModel: Path
    segmentOutput: slicer.vtkMRMLSegmentationNode
    segmentReference: slicer.vtkMRMLSegmentationNode
    segmentTable: slicer.vtkMRMLTableNode
    segmentDevice: Annotated[str, Choice(DEVICES)] = "auto"
    trainVolume: slicer.vtkMRMLScalarVolumeNode
    trainSegmentation: slicer.vtkMRMLSegmentationNode
    trainFolder: Path
    trainTask: Annotated[str, Choice(list(TRAIN_TASKS))] = "segmentation"
    network: Annotated[str, Choice(NETWORKS)] = "unet"
    # the Train section's defaults are the segmentation task's (gdbackend.train.options owns them)
    trainOptimizer: Annotated[str, Choice(list(OPTIMIZERS))] = TRAINING["optimizer"]
    epochs: Annotated[int, WithinRange(1, 100000)] = TRAINING["epochs"]
    trainLearningRate: Annotated[float, WithinRange(0.0, 10.0)] = TRAINING["lr"]
    trainDevice: Annotated[str, Choice(DEVICES)] = "auto"
    trainOutput: Path
    classifyVolume: slicer.vtkMRMLScalarVolumeNode
    classifyAllVolumes: bool = False
    classifyFolder: Path   # or every image file of this folder, results written beside them
    classifyRoi: slicer.vtkMRMLMarkupsROINode
    classifyModel: Path
    classifyTable: slicer.vtkMRMLTableNode
    classifyDevice: Annotated[str, Choice(DEVICES)] = "auto"
    detectVolume: slicer.vtkMRMLScalarVolumeNode
    detectAllVolumes: bool = False
    detectFolder: Path   # or every image file of this folder, results written beside them
    detectModel: Path
    detectThreshold: Annotated[float, WithinRange(0.0, 1.0)] = 0.5
    detectTable: slicer.vtkMRMLTableNode
    detectDevice: Annotated[str, Choice(DEVICES)] = "auto"


# each panel section: its parameters' name prefixes (the widgets locked while its job runs), button text, chart
SECTIONS = {"segment": (("segment",), _("Segment"), None),
            "train": (("train", "network", "epochs"), _("Train"), _("Training loss")),
            "classify": (("classify",), _("Classify"), None),
            "detect": (("detect",), _("Detect"), None)}
# the widgets of a section that no parameter names, locked with it
UNBOUND = {"segment": ("segmentModelComboBox", "importModelButton"), "classify": ("classifyModelComboBox",
           "classifyImportButton"), "detect": ("detectModelComboBox", "detectImportButton"), "train": ()}


class GDSegmentWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    def __init__(self, parent=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None
        self.runners, self.models, self.batches = {}, {}, {}

    def setup(self) -> None:
        from GDImagingLib.modelpanel import ModelSelector
        from GDImagingLib.running import JobController
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/GDSegment.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)
        self.logic = GDSegmentLogic()
        for name, (_prefixes, text, chart) in SECTIONS.items():
            self.runners[name] = JobController(self._button(name), self._ui(name, "ProgressBar"),
                                               self._ui(name, "StatusLabel"), text, chart,
                                               onFinished=lambda n=name: self._onJobFinished(n), log=self._logger(name))
            self._button(name).connect("clicked(bool)", lambda checked, n=name: self.onButton(n))
        for name in PREDICTIONS:
            self.models[name] = ModelSelector(
                name, name, self._ui(name, "ModelComboBox"), self._ui(name, "ModelInfoLabel"),
                self._ui(name, "DownloadButton"), self._ui(name, "ProgressBar"), self._ui(name, "StatusLabel"),
                onChosen=lambda path, n=name: self._setIfOpen(**{f"{n}Model": path or Path()}),
                prepareDownload=self.logic.prepareDownload, onChanged=self._updateButtons, log=self._logger(name))
        self.ui.importModelButton.connect("clicked(bool)", lambda checked: self.onImportModel())
        self.ui.classifyImportButton.connect("clicked(bool)", lambda checked: self.onImportModel("classify"))
        self.ui.detectImportButton.connect("clicked(bool)", lambda checked: self.onImportModel("detect"))
        self._addBundleMenu()
        self.ui.detectTableView.connect("clicked(QModelIndex)", lambda index: self.onDetectRowClicked(index.row()))
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)
        self.initializeParameterNode()

    def _ui(self, section: str, suffix: str):
        return getattr(self.ui, f"{section}{suffix}")

    def _button(self, section: str):
        return self._ui(section, "Button")

    def _addBundleMenu(self) -> None:
        """Import... takes a model file; its menu also takes a MONAI bundle folder, used where it is."""
        import qt
        menu = qt.QMenu(self.ui.importModelButton)
        menu.addAction(_("A MONAI bundle folder...")).triggered.connect(lambda checked=False: self.onImportBundle())
        self.ui.importModelButton.setMenu(menu)
        self.ui.importModelButton.setPopupMode(qt.QToolButton.MenuButtonPopup)

    def _logger(self, section: str):
        """The log pane's feed for a section's jobs: every line says which section it comes from."""
        return lambda text: self.ui.logTextEdit.appendPlainText(f"[{SECTIONS[section][1]}] {text}")

    def _sectionWidgets(self, section: str) -> list:
        """The widgets of a section's options, locked while its job runs (its inputs were fixed at the start)."""
        prefixes = SECTIONS[section][0]
        widgets = [w for w in vars(self.ui).values() if hasattr(w, "property")
                   and str(w.property("SlicerParameterName") or "").startswith(prefixes)]
        return widgets + [getattr(self.ui, name) for name in UNBOUND[section]]

    def onImportModel(self, section: str = "segment") -> None:
        """Choose a model file; once checked and copied into the model cache, it becomes the section's model."""
        import qt

        from GDImagingLib.dependencies import ensureDependencies
        from GDImagingLib.models import MODEL_FILTER
        path = qt.QFileDialog.getOpenFileName(self.parent, _("Import a model"), settings.value("folders/models"),
                                              _(MODEL_FILTER))
        if not path:
            return
        settings.setValue("folders/models", str(Path(path).parent))
        with slicer.util.tryWithErrorDisplay(_("Could not import the model."), waitCursor=True):
            if not ensureDependencies(self.resourcePath("requirements.txt"), "GDSegment"):
                return  # checking a model file needs torch: never import it before the user has it
            model = self.logic.importModel(path, section)
            self._setIfOpen(**{f"{section}Model": model})
            self._ui(section, "StatusLabel").setText(_("Imported {name} into the model cache.").format(
                name=model.name))

    def onImportBundle(self) -> None:
        """Use a MONAI bundle folder (configs/ and models/) as the Segment model, where it is."""
        from GDImagingLib.modelpanel import chooseBundleFolder
        folder = chooseBundleFolder(self.parent)
        if folder is not None:
            self._setIfOpen(segmentModel=folder)

    def onDetectRowClicked(self, row: int) -> None:
        """Centre the slice views on the lesion of a detections table row."""
        roi = views.rowNode(self.ui.detectTableView.mrmlTableNode(), row)
        if roi is not None:
            views.jumpToRoi(roi)

    def cleanup(self) -> None:
        for runner in [*self.runners.values(), *(m.runner for m in self.models.values())]:
            runner.cancel()
        self.setParameterNode(None)  # the panel's widgets go with the module: unbind them from the node
        self.removeObservers()
        closeSpareProcess()

    def enter(self) -> None:
        self.initializeParameterNode()
        readySpareProcess("segment.predict")  # torch and MONAI are imported while the user chooses the inputs

    def exit(self) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self._parameterNodeGuiTag = None
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._updateButtons)

    def onSceneStartClose(self, caller, event) -> None:
        """Jobs whose results go into the scene stop; a training (whose result is a file) goes on if the user
        says so."""
        for name, runner in self.runners.items():
            if name == "train" and runner.running and not slicer.util.confirmYesNoDisplay(
                    _("A training is running. Stop it? If not, it goes on in the background and its model is "
                      "written as planned."), _("Closing the scene")):
                continue
            runner.cancel()
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event) -> None:
        if self.parent.isEntered:
            self.initializeParameterNode()

    def initializeParameterNode(self) -> None:
        """The scene's parameters and the first volume as input. A new parameter node starts from the user's
        settings of earlier sessions (devices, training folder); a saved scene keeps its own."""
        p = self.logic.getParameterNode()
        if not p.parameterNode.GetAttribute(SETTINGS_APPLIED):
            p.parameterNode.SetAttribute(SETTINGS_APPLIED, "1")
            for name in SECTIONS:
                device = settings.value(f"{name}/device", getattr(p, f"{name}Device"))
                setattr(p, f"{name}Device", device if device in DEVICES else "auto")
            if not _given(p.trainFolder) and settings.value("train/folder"):
                p.trainFolder = Path(settings.value("train/folder"))
        first = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLScalarVolumeNode")
        for field in ("segmentVolume", "classifyVolume", "detectVolume"):
            if not getattr(p, field):
                setattr(p, field, first)
        self.setParameterNode(p)
        for name, selector in self.models.items():
            selector.refresh(_given(getattr(p, f"{name}Model")))

    def setParameterNode(self, parameterNode) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._updateButtons)
        self._parameterNode = parameterNode
        if self._parameterNode:
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)
            self.addObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._updateButtons)
            self._updateButtons()

    def _updateButtons(self, caller=None, event=None) -> None:
        """Each section runs its own job: its button starts it when its inputs are set (otherwise the reason is
        shown under it and as its tooltip), and cancels it meanwhile. The result views and settings follow."""
        p = self._parameterNode
        channels = self._segmentChannels()
        reasons = segmentpanel.reasons(p, {name: selector.current.name for name, selector in self.models.items()
                                           if selector.current and selector.current.needsDownload}, channels)
        for name, runner in self.runners.items():
            busy = runner.running or bool(self.batches.get(name) and self.batches[name].running)
            reason = "" if busy else reasons[name]
            self._button(name).setEnabled(busy or not reason)
            self._button(name).setToolTip(reason)
            self._ui(name, "ReasonLabel").setText(reason)
            self._ui(name, "ReasonLabel").setVisible(bool(reason))
        if p is None:
            return
        self._showChannels(channels)
        for name in PREDICTIONS:
            self.models[name].showPath(_given(getattr(p, f"{name}Model")))
            table = getattr(p, f"{name}Table")
            self._ui(name, "TableView").setMRMLTableNode(table)
            self._ui(name, "TableView").setVisible(bool(table and table.GetNumberOfRows()))
        self.ui.segmentShow3DButton.setSegmentationNode(p.segmentOutput)
        for name in SECTIONS:
            settings.setValue(f"{name}/device", getattr(p, f"{name}Device"))
        if _given(p.trainFolder):
            settings.setValue("train/folder", str(p.trainFolder))

    def _segmentChannels(self) -> tuple[str, ...]:
        """The Segment model's input channels (none named: one)."""
        p, choice = self._parameterNode, self.models["segment"].current
        path = _given(p.segmentModel) if p else None
        return segmentpanel.modelChannels(choice if choice is not None and choice.path == path else None, path)

    def _showChannels(self, channels: tuple[str, ...]) -> None:
        """One volume selector per input channel, named after it (a one-channel model: the input volume alone)."""
        self.ui.segmentVolumeLabel.setText(f"{channels[0]}:" if len(channels) > 1 else _("Input volume:"))
        for k in range(2, segmentpanel.PANEL_CHANNELS + 1):
            shown = k <= len(channels)
            self._ui("segment", f"Channel{k}Label").setText(f"{channels[k - 1]}:" if shown else "")
            self._ui("segment", f"Channel{k}Label").setVisible(shown)
            self._ui("segment", f"Channel{k}Selector").setVisible(shown)

    def onButton(self, name: str) -> None:
        """Start the section's job (on every volume of the scene, one after another, when asked), or cancel it
        while it runs: a batch then starts no more."""
        runner = self.runners[name]
        if runner.running:
            runner.cancel()
            return
        from GDImagingLib.batch import Batch, folderImages, resultsFolder, sceneVolumes
        from GDImagingLib.dependencies import ensureDependencies
        p = self._parameterNode
        with slicer.util.tryWithErrorDisplay(_("Failed to start the computation."), waitCursor=True):
            if not ensureDependencies(self.resourcePath("requirements.txt"), "GDSegment"):
                return
            folder = _given(getattr(p, f"{name}Folder", None))
            if folder is not None:
                results = resultsFolder(folder, name)
                runner.log(_("Every image of {folder}: the results go to {results}.").format(folder=folder,
                                                                                          results=results))
                self.batches[name] = Batch(runner, folderImages(folder),
                                           lambda path: self._startFile(name, path, results))
                self.batches[name].start()
            elif name in PREDICTIONS and getattr(p, f"{name}AllVolumes"):
                self.batches[name] = Batch(runner, sceneVolumes(), lambda volume: self._start(name, volume, True))
                self.batches[name].start()
            else:
                self._start(name, getattr(p, f"{name}Volume", None), False)
        self._updateButtons()

    def _start(self, name: str, volume, batch: bool) -> None:
        spec, apply, keep = getattr(self, f"_{name}Job")(self._parameterNode, volume, batch)
        self.runners[name].start(startJob(spec), apply, lock=self._sectionWidgets(name), keep=keep)

    def _startFile(self, name: str, path: Path, results: Path) -> None:
        """A folder batch's job on one file: its result is a file in `results`, not loaded into the scene."""
        p = self._parameterNode
        spec = self.logic.prepareFileJob(name, path, getattr(p, f"{name}Model"), results,
                                         getattr(p, f"{name}Device"), p.detectThreshold)
        self.runners[name].start(startJob(spec), lambda result: _("Wrote {file}.").format(
            file=Path(next(iter(result["outputs"].values()))).name), lock=self._sectionWidgets(name), keep=[])

    def _onJobFinished(self, name: str) -> None:
        batch = self.batches.get(name)
        if batch is not None and not batch.advance():
            del self.batches[name]
        self._updateButtons()

    # Each _<section>Job: (spec, how to apply the result, the user's nodes it fills), all fixed now. In a batch
    # every result goes into new nodes named after its volume.
    def _segmentJob(self, p, volume, batch: bool):
        output, table, reference = (None, None, None) if batch else (p.segmentOutput, p.segmentTable,
                                                                     p.segmentReference)
        others = [getattr(p, f"segmentChannel{k}") for k in range(2, len(self._segmentChannels()) + 1)]
        spec = self.logic.prepareSegmentation(volume, p.segmentModel, reference, p.segmentDevice, others)

        def apply(result):
            segmentation, metrics = self.logic.applySegmentation(result, volume, output, table)
            if not batch:
                self._setIfOpen(segmentOutput=segmentation, segmentTable=metrics)
        return spec, apply, [output, table]

    def _trainJob(self, p, volume, batch: bool):
        task = TRAIN_TASKS[p.trainTask]
        spec = self.logic.prepareTraining(p.trainOutput, p.trainVolume, p.trainSegmentation, _given(p.trainFolder),
                                          task=task, network=p.network, optimizer=p.trainOptimizer,
                                          epochs=p.epochs, learningRate=p.trainLearningRate, device=p.trainDevice)
        # the new model becomes the model of the section it was trained for (Segment, Classify or Detect)
        return spec, lambda result: self._setIfOpen(**{f"{task}Model": Path(result["outputs"]["model"])}), []

    def _classifyJob(self, p, volume, batch: bool):
        table, roi = (None, None) if batch else (p.classifyTable, p.classifyRoi)
        spec = self.logic.prepareClassification(volume, p.classifyModel, roi, p.classifyDevice)

        def apply(result) -> str:
            filled = self.logic.applyClassification(result, table, volume)
            if not batch:
                self._setIfOpen(classifyTable=filled)
            top = views.topClass(filled)
            return _("Top class: {name} ({p:.2f}).").format(name=top[0], p=top[1]) if top else ""
        return spec, apply, [table]

    def _detectJob(self, p, volume, batch: bool):
        table = None if batch else p.detectTable
        spec = self.logic.prepareDetection(volume, p.detectModel, p.detectThreshold, p.detectDevice)

        def apply(result) -> str:
            rois, filled = self.logic.applyDetection(result, table, volume)
            if not batch:
                self._setIfOpen(detectTable=filled)
            return _("{n} lesion(s): click a row of the table to see one.").format(n=len(rois))
        return spec, apply, [table]

    def _setIfOpen(self, **values) -> None:
        """Results into the panel's fields (a training may end after the scene it started in was closed)."""
        if self._parameterNode:
            for field, value in values.items():
                setattr(self._parameterNode, field, value)


class GDSegmentLogic(SegmentationLogic):
    """Segmentation, classification and detection of volume nodes (GDImagingLib.segmentlogic), with the panel's
    parameter node."""

    def getParameterNode(self):
        return GDSegmentParameterNode(super().getParameterNode())


class GDSegmentTest(ScriptedLoadableModuleTest):
    """Runs in Slicer (Reload and Test, or ctest: each test_* with setUp). Downloads SampleData."""

    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_train_tiny_model_and_segment_mrhead()

    def test_train_tiny_model_and_segment_mrhead(self):
        """A tiny U-Net learns a thresholded head mask of MRHead in a few epochs; its prediction has the
        training segment's name and colour and overlaps the reference."""
        import SampleData
        self.delayDisplay("Training a tiny model on MRHead")
        volume = SampleData.downloadSample("MRHead")
        array = slicer.util.arrayFromVolume(volume)
        reference = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLSegmentationNode", "reference")
        reference.CreateDefaultDisplayNodes()
        reference.SetReferenceImageGeometryParameterFromVolumeNode(volume)
        segmentId = reference.GetSegmentation().AddEmptySegment("head", "head", (0.9, 0.6, 0.4))
        slicer.util.updateSegmentBinaryLabelmapFromArray((array > np.percentile(array, 70)).astype(np.uint8),
                                                         reference, segmentId, volume)
        logic = GDSegmentLogic()
        model = logic.train(Path(slicer.util.tempDirectory("GDSegmentTest")) / "head.pt", volume, reference,
                            epochs=3, patch=[32, 32, 32], spacing=[4.0, 4.0, 4.0], device="cpu")
        segmentation, table = logic.segment(volume, model, reference=reference, device="cpu")
        segment = segmentation.GetSegmentation().GetSegment(segmentation.GetSegmentation().GetNthSegmentID(0))
        self.assertEqual(segment.GetName(), "head")
        self.assertEqual(tuple(round(c, 1) for c in segment.GetColor()), (0.9, 0.6, 0.4))
        self.assertGreater(float(table.GetCellText(0, 1)), 0.5)
        self.delayDisplay("Test passed")
