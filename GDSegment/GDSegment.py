"""GDSegment: U-Net segmentation (train, predict, evaluate), ResNet classification and lesion detection
on volume nodes, computed by gdbackend in a background process."""

import csv
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
    ScriptedLoadableModuleLogic,
    ScriptedLoadableModuleTest,
    ScriptedLoadableModuleWidget,
)
from slicer.util import VTKObservationMixin

from gdbackend.train.options import OPTIMIZERS, defaults
from gdbackend.volume import LPS_TO_RAS, Volume
from GDImagingLib import nodes, results
from GDImagingLib.jobs import IMAGE_SUFFIX, jobFolder, runJobHere, startJob, writeSpec

NETWORKS = ["unet", "basicunet", "segresnet"]
TRAINING = defaults("segment")
# shown in the panel -> job task
TRAIN_TASKS = {"segmentation": "segment", "lesion detection": "detect", "classification": "classify"}
DEVICES = ["auto", "cpu", "cuda"]


def _given(path) -> Path | None:
    """A path field of the parameter node, or None when it is empty."""
    return Path(path) if path is not None and str(path) not in ("", ".") else None


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
    segmentModel: Path
    segmentOutput: slicer.vtkMRMLSegmentationNode
    segmentReference: slicer.vtkMRMLSegmentationNode
    segmentTable: slicer.vtkMRMLTableNode
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
    classifyRoi: slicer.vtkMRMLMarkupsROINode
    classifyModel: Path
    classifyTable: slicer.vtkMRMLTableNode
    detectVolume: slicer.vtkMRMLScalarVolumeNode
    detectModel: Path
    detectThreshold: Annotated[float, WithinRange(0.0, 1.0)] = 0.5
    detectTable: slicer.vtkMRMLTableNode


# each panel section: its parameters' name prefixes (the widgets locked while its job runs), button text, chart
SECTIONS = {"segment": (("segment",), _("Segment"), None),
            "train": (("train", "network", "epochs"), _("Train"), _("Training loss")),
            "classify": (("classify",), _("Classify"), None),
            "detect": (("detect",), _("Detect"), None)}


class GDSegmentWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    def __init__(self, parent=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None
        self.runners = {}

    def setup(self) -> None:
        from GDImagingLib.running import JobController
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/GDSegment.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)
        self.logic = GDSegmentLogic()
        for name, (_prefixes, text, chart) in SECTIONS.items():
            self.runners[name] = JobController(self._button(name), getattr(self.ui, f"{name}ProgressBar"),
                                               getattr(self.ui, f"{name}StatusLabel"), text, chart,
                                               onFinished=self._updateButtons)
            self._button(name).connect("clicked(bool)", lambda checked, n=name: self.onButton(n))
        self.ui.importModelButton.connect("clicked(bool)", lambda checked: self.onImportModel())
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)
        self.initializeParameterNode()

    def _button(self, section: str):
        return getattr(self.ui, f"{section}Button")

    def _sectionWidgets(self, section: str) -> list:
        """The widgets of a section's options, locked while its job runs (its inputs were fixed at the start)."""
        prefixes = SECTIONS[section][0]
        widgets = [w for w in vars(self.ui).values() if hasattr(w, "property")
                   and str(w.property("SlicerParameterName") or "").startswith(prefixes)]
        return widgets + ([self.ui.importModelButton] if section == "segment" else [])

    def onImportModel(self) -> None:
        """Choose a model file; once checked and copied into the model cache, it becomes the Segment model."""
        import qt

        from GDImagingLib.dependencies import ensureDependencies
        from GDImagingLib.models import MODEL_FILTER
        path = qt.QFileDialog.getOpenFileName(self.parent, _("Import a segmentation model"), "", _(MODEL_FILTER))
        if not path:
            return
        with slicer.util.tryWithErrorDisplay(_("Could not import the model."), waitCursor=True):
            if not ensureDependencies(self.resourcePath("requirements.txt"), "GDSegment"):
                return  # checking a model file needs torch: never import it before the user has it
            self._parameterNode.segmentModel = self.logic.importModel(path)
            self.ui.segmentStatusLabel.setText(_("Imported {name} into the model cache.").format(
                name=self._parameterNode.segmentModel.name))

    def cleanup(self) -> None:
        for runner in self.runners.values():
            runner.cancel()
        self.setParameterNode(None)  # the panel's widgets go with the module: unbind them from the node
        self.removeObservers()

    def enter(self) -> None:
        self.initializeParameterNode()

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
        self.setParameterNode(self.logic.getParameterNode())
        first = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLScalarVolumeNode")
        for field in ("segmentVolume", "classifyVolume", "detectVolume"):
            if not getattr(self._parameterNode, field):
                setattr(self._parameterNode, field, first)

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
        """Each section runs its own job: its button starts it when its inputs are set, and cancels it meanwhile."""
        p = self._parameterNode
        fromScene = bool(p and p.trainVolume and p.trainSegmentation and TRAIN_TASKS[p.trainTask] != "classify")
        ready = {"segment": bool(p and p.segmentVolume and _given(p.segmentModel)),
                 "train": bool(p and _given(p.trainOutput) and (_given(p.trainFolder) or fromScene)),
                 "classify": bool(p and p.classifyVolume and _given(p.classifyModel)),
                 "detect": bool(p and p.detectVolume and _given(p.detectModel))}
        for name, runner in self.runners.items():
            self._button(name).setEnabled(runner.running or ready[name])

    def onButton(self, name: str) -> None:
        runner = self.runners[name]
        if runner.running:
            runner.cancel()
            return
        from GDImagingLib.dependencies import ensureDependencies
        with slicer.util.tryWithErrorDisplay(_("Failed to start the computation."), waitCursor=True):
            if not ensureDependencies(self.resourcePath("requirements.txt"), "GDSegment"):
                return
            spec, apply, keep = getattr(self, f"_{name}Job")(self._parameterNode)
            runner.start(startJob(spec), apply, lock=self._sectionWidgets(name), keep=keep)
        self._updateButtons()

    # Each _<section>Job: (spec, how to apply the result, the user's nodes it fills), all fixed now.
    def _segmentJob(self, p):
        volume, output, table = p.segmentVolume, p.segmentOutput, p.segmentTable
        spec = self.logic.prepareSegmentation(volume, p.segmentModel, p.segmentReference)

        def apply(result):
            segmentation, metrics = self.logic.applySegmentation(result, volume, output, table)
            self._setIfOpen(segmentOutput=segmentation, segmentTable=metrics)
        return spec, apply, [output, table]

    def _trainJob(self, p):
        task = TRAIN_TASKS[p.trainTask]
        spec = self.logic.prepareTraining(p.trainOutput, p.trainVolume, p.trainSegmentation, _given(p.trainFolder),
                                          task=task, network=p.network, optimizer=p.trainOptimizer,
                                          epochs=p.epochs, learningRate=p.trainLearningRate, device=p.trainDevice)
        # the new model becomes the model of the section it was trained for (Segment, Classify or Detect)
        return spec, lambda result: self._setIfOpen(**{f"{task}Model": Path(result["outputs"]["model"])}), []

    def _classifyJob(self, p):
        table = p.classifyTable
        spec = self.logic.prepareClassification(p.classifyVolume, p.classifyModel, p.classifyRoi)
        return spec, lambda result: self._setIfOpen(classifyTable=self.logic.applyClassification(result, table)), [
            table]

    def _detectJob(self, p):
        volume, table = p.detectVolume, p.detectTable
        spec = self.logic.prepareDetection(volume, p.detectModel, p.detectThreshold)
        return spec, lambda result: self._setIfOpen(
            detectTable=self.logic.applyDetection(result, table, volume)[1]), [table]

    def _setIfOpen(self, **values) -> None:
        """Results into the panel's fields (a training may end after the scene it started in was closed)."""
        if self._parameterNode:
            for field, value in values.items():
                setattr(self._parameterNode, field, value)


class GDSegmentLogic(ScriptedLoadableModuleLogic):
    """Segmentation, classification and detection of volume nodes, usable from the Python console:

        logic = GDSegmentLogic()
        segmentationNode, table = logic.segment(volumeNode, "brain.pt")
        modelPath = logic.train("brain.pt", volumeNode, segmentationNode, epochs=20)
        detector = logic.train("lesions.pt", volumeNode, lesionSegmentationNode, task="detect", epochs=40)
        roiNodes, table = logic.detect(volumeNode, detector)
    """

    def getParameterNode(self):
        return GDSegmentParameterNode(super().getParameterNode())

    def importModel(self, path, task: str = "segment") -> Path:
        """Check a local model file and copy it into the model cache; returns the cached file."""
        from GDImagingLib.models import importModelFile
        return importModelFile(path, task)

    # ---------------------------------------------------------------- segment
    def prepareSegmentation(self, volume, model, reference=None, device: str = "auto") -> Path:
        folder = jobFolder("segment")
        options, referenceFiles = {"device": device}, {}
        if reference is not None:
            labels, names = results.labelsFromSegmentation(reference, volume)
            referenceFiles["reference"] = labels.write(folder / f"reference{IMAGE_SUFFIX}")
            options["reference_labels"] = names
        return writeSpec(folder, "segment.predict", {"image": volume}, options, {"labels": f"labels{IMAGE_SUFFIX}"},
                         {"model": model, **referenceFiles})

    def applySegmentation(self, result: dict, volume, segmentation=None, table=None):
        """(segmentation node with the model's named, coloured segments, metrics table or None)."""
        summary = result["summary"]
        segmentation = segmentation or slicer.mrmlScene.AddNewNodeByClass(
            "vtkMRMLSegmentationNode", slicer.mrmlScene.GenerateUniqueName(f"{volume.GetName()} segmentation"))
        results.updateSegmentationFromLabels(segmentation, Volume.read(result["outputs"]["labels"]),
                                             summary["labels"], volume)
        nodes.placeUnder(segmentation, volume)  # computed in the volume's frame: it follows the volume
        if "metrics" not in summary:
            return segmentation, table
        m = summary["metrics"]
        rows = [{"segment": lb["name"], "Dice": m[f"dice_{lb['name']}"], "IoU": m[f"iou_{lb['name']}"],
                 "HD95 (mm)": m[f"hd95_{lb['name']}"]} for lb in summary["labels"]]
        rows.append({"segment": "mean", "Dice": m["dice"], "IoU": m["iou"], "HD95 (mm)": m["hd95"]})
        return segmentation, results.updateTableFromRows(table, rows)

    def segment(self, volume, model, segmentation=None, reference=None, table=None, device: str = "auto",
                progress=None):
        """Synchronous segmentation in this process; returns (segmentation node, metrics table or None)."""
        spec = self.prepareSegmentation(volume, model, reference, device)
        return runJobHere(spec, lambda result: self.applySegmentation(result, volume, segmentation, table),
                          progress)

    # ---------------------------------------------------------------- train
    def prepareTraining(self, modelPath, volume=None, segmentation=None, folder=None, task: str = "segment",
                        network: str = "unet", optimizer: str = TRAINING["optimizer"], epochs: int = TRAINING["epochs"],
                        learningRate: float = TRAINING["lr"],
                        device: str = "auto", **backendOptions) -> Path:
        """Train on a volume + segmentation of the scene, or on a folder of images/ and labels/: a segmentation
        model (task "segment": the segments are its classes, `network` its U-Net) or a lesion detector (task
        "detect": every connected region of any segment is a lesion; a 3D U-Net unless `architecture` is given).
        A classifier (task "classify") learns from `folder` only: one sub-folder of images per class, or a CSV
        path,label."""
        if task not in TRAIN_TASKS.values():
            raise ValueError(f"Unknown task {task!r}: use one of {', '.join(TRAIN_TASKS.values())}.")
        if task == "classify" and not folder:
            raise ValueError("A classifier learns from files: choose a folder with one sub-folder of images per "
                             "class (or give a CSV with columns path,label).")
        job = jobFolder("train")
        options = {"optimizer": optimizer, "epochs": epochs, "lr": learningRate, "device": device,
                   **({"network": network} if task == "segment" else {}), **backendOptions}
        files = {}
        if segmentation is not None and volume is not None:
            labels, names = results.labelsFromSegmentation(segmentation, volume)
            files["label"] = labels.write(job / f"label{IMAGE_SUFFIX}")
            if task == "segment":
                options["labels"] = names
        if folder:
            options["data"] = str(folder)
            if task == "segment":
                options.setdefault("labels", "1:foreground")
        inputs = {} if folder else {"image": volume}
        return writeSpec(job, f"{task}.train", inputs, options, {"model": str(Path(modelPath).resolve())}, files)

    def train(self, modelPath, volume=None, segmentation=None, folder=None, progress=None, **options) -> Path:
        """Synchronous training in this process; returns the model file."""
        spec = self.prepareTraining(modelPath, volume, segmentation, folder, **options)
        return runJobHere(spec, lambda result: Path(result["outputs"]["model"]), progress)

    # ---------------------------------------------------------------- classify
    def prepareClassification(self, volume, model, roi=None, device: str = "auto") -> Path:
        options = {"device": device}
        if roi is not None:
            options["box"] = roiToLPSBox(roi, volume)
        return writeSpec(jobFolder("classify"), "classify.predict", {"image": volume}, options,
                         {"probabilities": "probabilities.csv"}, {"model": model})

    def applyClassification(self, result: dict, table=None):
        with open(result["outputs"]["probabilities"], newline="") as f:
            rows = [{"class": r["class"], "probability": float(r["probability"])} for r in csv.DictReader(f)]
        return results.updateTableFromRows(table, rows)

    def classify(self, volume, model, roi=None, table=None, device: str = "auto", progress=None):
        """Synchronous classification in this process; returns the table of class probabilities."""
        spec = self.prepareClassification(volume, model, roi, device)
        return runJobHere(spec, lambda result: self.applyClassification(result, table), progress)

    # ---------------------------------------------------------------- detect
    def prepareDetection(self, volume, model, threshold: float = 0.5, device: str = "auto") -> Path:
        return writeSpec(jobFolder("detect"), "detect.predict", {"image": volume},
                         {"device": device, "threshold": threshold}, {"boxes": "boxes.csv"}, {"model": model})

    def applyDetection(self, result: dict, table=None, volume=None):
        """(one ROI node per detected box, table of scores, centres and sizes in RAS of the volume's frame); the
        ROIs go under the volume's parent transform, as the boxes were found in its frame."""
        boxes = result["summary"]["boxes"]
        rois = results.roisFromBoxes(boxes)
        for roi in rois if volume is not None else ():
            nodes.placeUnder(roi, volume)
        rows = [{"name": roi.GetName(), "score": box["score"],
                 **{f"center {a} (mm)": c for a, c in zip("RAS", roi.GetCenter())},
                 **{f"size {a} (mm)": s for a, s in zip("RAS", roi.GetSize())}} for roi, box in zip(rois, boxes)]
        return rois, results.updateTableFromRows(table, rows)

    def detect(self, volume, model, threshold: float = 0.5, table=None, device: str = "auto", progress=None):
        """Synchronous detection in this process; returns (ROI nodes, table)."""
        spec = self.prepareDetection(volume, model, threshold, device)
        return runJobHere(spec, lambda result: self.applyDetection(result, table, volume), progress)


def roiToLPSBox(roi, volume=None) -> list[float]:
    """An ROI node's box as [x0, y0, z0, x1, y1, z1] in LPS mm of the volume's frame (the box around the ROI's
    corners, through the transforms between the ROI and the volume)."""
    center, size = np.array(roi.GetCenter()), np.array(roi.GetSize())
    offsets = np.array(list(np.ndindex(2, 2, 2))) - 0.5
    corners = np.c_[center + offsets * size, np.ones(8)]
    if volume is not None:
        corners = corners @ (np.linalg.inv(nodes.toWorldMatrix(volume)) @ nodes.toWorldMatrix(roi)).T
    lps = corners[:, :3] * LPS_TO_RAS.diagonal()[:3]
    return [*lps.min(axis=0), *lps.max(axis=0)]


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
