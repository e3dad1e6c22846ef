"""GD Segment's computations on scene nodes (segment, train, classify, detect), usable without the panel:
each `prepare*` writes a job for a background process, each `apply*` puts a job's result into the scene and
shows it, and each plain verb (segment, train, ...) runs both here, synchronously, for the Python console.
Kept apart from GDSegment.py so that the module file stays the thin widget of Slicer's scripted template."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import slicer
from slicer.ScriptedLoadableModule import ScriptedLoadableModuleLogic

from gdbackend.jobs import CHANNEL_INPUTS
from gdbackend.train.options import defaults
from gdbackend.volume import LPS_TO_RAS, Volume, image_stem

from . import nodes, results, views
from .jobs import IMAGE_SUFFIX, jobFolder, runJobHere, writeSpec

TRAINING = defaults("segment")
# a section run on an image file (a folder batch): its job kind, result output and result file name after the input's
FILE_RESULTS = {"segment": ("segment.predict", "labels", "segmentation.nii.gz"),
                "classify": ("classify.predict", "probabilities", "classes.csv"),
                "detect": ("detect.predict", "boxes", "lesions.csv")}
# shown in the panel -> job task
TRAIN_TASKS = {"segmentation": "segment", "lesion detection": "detect", "classification": "classify"}


def newNode(node, className: str, name: str):
    """`node`, or a new node named after its input (a batch makes one per volume: "MRHead lesions")."""
    return node or slicer.mrmlScene.AddNewNodeByClass(className, slicer.mrmlScene.GenerateUniqueName(name))


class SegmentationLogic(ScriptedLoadableModuleLogic):
    """Segmentation, classification and detection of volume nodes, usable from the Python console:

        logic = GDSegmentLogic()
        segmentationNode, table = logic.segment(volumeNode, "brain.pt")
        modelPath = logic.train("brain.pt", volumeNode, segmentationNode, epochs=20)
        detector = logic.train("lesions.pt", volumeNode, lesionSegmentationNode, task="detect", epochs=40)
        roiNodes, table = logic.detect(volumeNode, detector)
    """

    def importModel(self, path, task: str = "segment") -> Path:
        """Check a local model file and copy it into the model cache; returns the cached file."""
        from .models import importModelFile
        return importModelFile(path, task)

    def prepareDownload(self, name: str, registry: Path | None = None) -> Path:
        """A job that downloads registry model `name` into the model cache (result: {"summary": {"model"}})."""
        options = {"name": name, "registry": str(registry) if registry else None}
        return writeSpec(jobFolder("models"), "models.fetch", {}, options, {})

    # ---------------------------------------------------------------- segment
    def prepareSegmentation(self, volume, model, reference=None, device: str = "auto", channels=()) -> Path:
        """A segment.predict job of `volume` (a model of several input channels: its first channel, `channels`
        the volume nodes of the others, in the model's order)."""
        folder = jobFolder("segment")
        options, files = {"device": device}, {}
        if reference is not None:
            labels, names = results.labelsFromSegmentation(reference, volume)
            files["reference"] = labels.write(folder / f"reference{IMAGE_SUFFIX}")
            options["reference_labels"] = names
        for key, image in zip(CHANNEL_INPUTS, channelsOnGrid(volume, channels)):
            files[key] = image.write(folder / f"{key}{IMAGE_SUFFIX}")
        return writeSpec(folder, "segment.predict", {"image": volume}, options, {"labels": f"labels{IMAGE_SUFFIX}"},
                         {"model": model, **files})

    def applySegmentation(self, result: dict, volume, segmentation=None, table=None, show3D: bool = True):
        """(segmentation node with the model's named, coloured segments, metrics table or None), shown over
        the volume in the slice views and, with `show3D`, as a closed surface in 3D."""
        summary = result["summary"]
        segmentation = newNode(segmentation, "vtkMRMLSegmentationNode", f"{volume.GetName()} segmentation")
        results.updateSegmentationFromLabels(segmentation, Volume.read(result["outputs"]["labels"]),
                                             summary["labels"], volume)
        nodes.placeUnder(segmentation, volume)  # computed in the volume's frame: it follows the volume
        views.showSegmentation(segmentation, volume, show3D)
        if "metrics" not in summary:
            return segmentation, table
        m = summary["metrics"]
        rows = [{"segment": lb["name"], "Dice": m[f"dice_{lb['name']}"], "IoU": m[f"iou_{lb['name']}"],
                 "HD95 (mm)": m[f"hd95_{lb['name']}"]} for lb in summary["labels"]]
        rows.append({"segment": "mean", "Dice": m["dice"], "IoU": m["iou"], "HD95 (mm)": m["hd95"]})
        return segmentation, results.updateTableFromRows(
            newNode(table, "vtkMRMLTableNode", f"{volume.GetName()} metrics"), rows)

    def segment(self, volume, model, segmentation=None, reference=None, table=None, device: str = "auto",
                progress=None, channels=()):
        """Synchronous segmentation in this process; returns (segmentation node, metrics table or None)."""
        spec = self.prepareSegmentation(volume, model, reference, device, channels)
        return runJobHere(spec, lambda result: self.applySegmentation(result, volume, segmentation, table),
                          progress)

    # ---------------------------------------------------------------- image files (a folder batch)
    def prepareFileJob(self, section: str, path, model, resultsFolder, device: str = "auto",
                       threshold: float = 0.5) -> Path:
        """A Segment, Classify or Detect job on an image file, without the scene: its result file goes into
        `resultsFolder`, named after the input ("case1 segmentation.nii.gz", "case1 classes.csv", "case1
        lesions.csv"), and the job runner moves it there only when the job succeeds (a cancelled or failed job
        leaves none)."""
        kind, output, name = FILE_RESULTS[section]
        options = {"device": device, **({"threshold": threshold} if section == "detect" else {})}
        result = Path(resultsFolder) / f"{image_stem(path)} {name}"
        return writeSpec(jobFolder(section), kind, {}, options, {output: str(result)},
                         {"image": str(path), "model": model})

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
            options["data"] = str(folder)   # its labels: what its Slicer segmentations name, else one foreground
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

    def applyClassification(self, result: dict, table=None, volume=None):
        """The table of class probabilities (a new one is named after the volume)."""
        with open(result["outputs"]["probabilities"], newline="") as f:
            rows = [{"class": r["class"], "probability": float(r["probability"])} for r in csv.DictReader(f)]
        name = f"{volume.GetName()} classes" if volume is not None else "classes"
        return results.updateTableFromRows(newNode(table, "vtkMRMLTableNode", name), rows)

    def classify(self, volume, model, roi=None, table=None, device: str = "auto", progress=None):
        """Synchronous classification in this process; returns the table of class probabilities."""
        spec = self.prepareClassification(volume, model, roi, device)
        return runJobHere(spec, lambda result: self.applyClassification(result, table, volume), progress)

    # ---------------------------------------------------------------- detect
    def prepareDetection(self, volume, model, threshold: float = 0.5, device: str = "auto") -> Path:
        return writeSpec(jobFolder("detect"), "detect.predict", {"image": volume},
                         {"device": device, "threshold": threshold}, {"boxes": "boxes.csv"}, {"model": model})

    def applyDetection(self, result: dict, table=None, volume=None):
        """(one visible ROI node per detected box, named after the volume, table of scores, centres and sizes in
        RAS of the volume's frame, each row linked to its ROI for views.rowNode); the ROIs go under the volume's
        parent transform, as the boxes were found in its frame."""
        boxes = result["summary"]["boxes"]
        rois = results.roisFromBoxes(boxes, f"{volume.GetName()} lesion" if volume is not None else "Lesion")
        for roi in rois if volume is not None else ():
            nodes.placeUnder(roi, volume)
        views.showRois(rois, volume)
        rows = [{"name": roi.GetName(), "score": box["score"],
                 **{f"center {a} (mm)": c for a, c in zip("RAS", roi.GetCenter())},
                 **{f"size {a} (mm)": s for a, s in zip("RAS", roi.GetSize())}} for roi, box in zip(rois, boxes)]
        name = f"{volume.GetName()} lesions" if volume is not None else "lesions"
        table = results.updateTableFromRows(newNode(table, "vtkMRMLTableNode", name), rows)
        views.linkRowsToNodes(table, rois)
        return rois, table

    def detect(self, volume, model, threshold: float = 0.5, table=None, device: str = "auto", progress=None):
        """Synchronous detection in this process; returns (ROI nodes, table)."""
        spec = self.prepareDetection(volume, model, threshold, device)
        return runJobHere(spec, lambda result: self.applyDetection(result, table, volume), progress)


def channelsOnGrid(volume, channels) -> list[Volume]:
    """The other input channels of a case on the first one's (`volume`'s) grid, in its frame: each as the views
    place it relative to `volume` (through their linear parent transforms), resampled (linear) onto `volume`'s
    voxels unless it lies on them already. Sequences of one session rarely share a grid, and a model needs them
    voxel for voxel."""
    if len(channels) > len(CHANNEL_INPUTS):
        raise ValueError(f"A model takes at most {len(CHANNEL_INPUTS) + 1} input channels here, not "
                         f"{len(channels) + 1}.")
    first = nodes.volumeFromNode(volume)
    toFirst = np.linalg.inv(nodes.toWorldMatrix(volume))
    out = []
    for node in channels:
        image = nodes.volumeFromNode(node, frame=toFirst @ nodes.toWorldMatrix(node))
        out.append(image if image.same_grid(first) else image.resample_to(first, "linear"))
    return out


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
