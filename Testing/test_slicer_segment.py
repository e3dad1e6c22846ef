"""GDSegment's Logic on real Slicer Core with real images: named, coloured segments from label maps,
segmentations back to label maps, detections as ROI nodes in RAS, and tiny train -> segment -> evaluate,
train -> detect and train -> classify runs through the job runner."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
import vtk

from gdbackend.classify.sample import lesion_patches
from gdbackend.detect.sample import lesion_volumes
from gdbackend.errors import InputError
from gdbackend.sample_data import itk_example, mricron
from gdbackend.train import load_model_file
from gdbackend.volume import Volume
from slicer_double import load

GDSegment = load("GDSegment")
import slicer  # noqa: E402  (the double, installed by load)

from GDImagingLib import nodes, results  # noqa: E402

AAL = [{"value": 1, "name": "Precentral_L", "color": [0.9, 0.1, 0.1]},
       {"value": 2, "name": "Precentral_R", "color": [0.1, 0.8, 0.2]},
       {"value": 19, "name": "Supp_Motor_Area_L", "color": [0.2, 0.3, 0.95]}]


def crop(name: str) -> Volume:
    """A 100 x 80 x 50 mm block of a Colin27 template (same block for the T1 and the AAL atlas)."""
    return Volume.from_sitk(sitk.ReadImage(str(mricron(name)))[40:140, 50:130, 110:160])


def ras_of_voxels(node, ijk: np.ndarray) -> np.ndarray:
    m = vtk.vtkMatrix4x4()
    node.GetIJKToRASMatrix(m)
    return (np.c_[ijk, np.ones(len(ijk))] @ slicer.util.arrayFromVTKMatrix(m).T)[:, :3]


def test_predicted_segments_carry_names_colours_and_voxels():
    load("GDSegment")
    t1, atlas = crop("ch2bet.nii.gz"), crop("aal.nii.gz")
    volume = nodes.addVolumeNode(t1, "T1")
    segmentation = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLSegmentationNode")
    results.updateSegmentationFromLabels(segmentation, atlas, AAL, volume)
    seg = segmentation.GetSegmentation()
    assert seg.GetNumberOfSegments() == 3
    assert segmentation.GetNodeReferenceID(segmentation.GetReferenceImageGeometryReferenceRole()) == volume.GetID()
    for i, label in enumerate(AAL):
        segment = seg.GetSegment(seg.GetNthSegmentID(i))
        assert segment.GetName() == label["name"] and np.allclose(segment.GetColor(), label["color"])
        mask = slicer.util.arrayFromSegmentBinaryLabelmap(segmentation, seg.GetNthSegmentID(i), volume)
        assert mask.any() and np.array_equal(mask > 0, atlas.array == label["value"])
    # a label map on a coarser grid (as a model working at 2 mm returns it) lands on the volume's grid
    coarse = Volume.from_sitk(sitk.Shrink(atlas.to_sitk(), [2, 2, 2]))
    results.updateSegmentationFromLabels(segmentation, coarse, AAL[:1], volume)
    mask = slicer.util.arrayFromSegmentBinaryLabelmap(segmentation, seg.GetNthSegmentID(0), volume)
    truth = atlas.array == 1
    assert seg.GetNumberOfSegments() == 1
    assert 2 * (mask.astype(bool) & truth).sum() / (mask.sum() + truth.sum()) > 0.8


def test_a_segmentation_becomes_a_label_map_with_its_names():
    load("GDSegment")
    t1, atlas = crop("ch2bet.nii.gz"), crop("aal.nii.gz")
    volume = nodes.addVolumeNode(t1, "T1")
    segmentation = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLSegmentationNode")
    results.updateSegmentationFromLabels(segmentation, atlas, AAL, volume)
    labels, names = results.labelsFromSegmentation(segmentation, volume)
    assert [n["name"] for n in names] == [a["name"] for a in AAL] and [n["value"] for n in names] == [1, 2, 3]
    assert labels.same_grid(t1)
    for new, old in zip(names, AAL):
        assert np.array_equal(labels.array == new["value"], atlas.array == old["value"])
    empty = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLSegmentationNode", "empty")
    with pytest.raises(ValueError, match="has no segments"):
        results.labelsFromSegmentation(empty, volume)


def test_detections_become_roi_nodes_at_the_right_ras_centres_and_sizes():
    load("GDSegment")
    atlas = crop("aal.nii.gz")
    volume = nodes.addVolumeNode(atlas, "atlas")
    boxes, voxels = [], []
    for label in AAL:
        kji = np.argwhere(atlas.array == label["value"])
        ijk = kji[:, ::-1]
        # the detector's box: voxel-centre extent in LPS mm (ITK's index -> physical mapping)
        lps = np.array([atlas.to_sitk().TransformIndexToPhysicalPoint(tuple(int(v) for v in p))
                        for p in (ijk.min(0), ijk.max(0))])
        boxes.append({"min_lps": lps.min(0).tolist(), "max_lps": lps.max(0).tolist(),
                      "score": 0.5 + label["value"] / 100})
        voxels.append(ras_of_voxels(volume, ijk))
    result = {"summary": {"boxes": boxes}}
    rois, table = GDSegment.GDSegmentLogic().applyDetection(result)
    assert [r.GetClassName() for r in rois] == ["vtkMRMLMarkupsROINode"] * 3
    for roi, ras, box in zip(rois, voxels, boxes):
        assert np.allclose(roi.GetCenter(), (ras.min(0) + ras.max(0)) / 2)
        assert np.allclose(roi.GetSize(), ras.max(0) - ras.min(0))
        assert f"({box['score']:.2f})" in roi.GetName()
    assert table.GetNumberOfRows() == 3 and table.GetColumnName(1) == "score"
    assert float(table.GetCellText(2, 1)) == pytest.approx(0.69)


def test_an_roi_is_sent_to_the_classifier_as_an_lps_box():
    load("GDSegment")
    box = {"min_lps": [-20.0, 5.0, 30.0], "max_lps": [10.0, 45.0, 52.5], "score": 1.0}
    roi = results.roisFromBoxes([box])[0]
    assert np.allclose(roi.GetCenter(), (5.0, -25.0, 41.25))  # RAS: x and y change sign
    assert np.allclose(GDSegment.roiToLPSBox(roi), box["min_lps"] + box["max_lps"])


def test_metrics_and_probabilities_fill_table_nodes():
    load("GDSegment")
    table = results.updateTableFromRows(None, [{"class": "tumour", "probability": 0.25},
                                               {"class": "healthy", "probability": 0.75}])
    assert table.GetNumberOfRows() == 2 and table.GetColumnName(0) == "class"
    assert table.GetTable().GetColumn(1).GetClassName() == "vtkDoubleArray"
    assert table.GetCellText(1, 0) == "healthy" and float(table.GetCellText(1, 1)) == 0.75


@pytest.mark.slow
def test_train_then_segment_a_real_slice_through_the_job_runner(tmp_path):
    """Scene nodes -> job files -> gdbackend training and prediction -> segments named as the training ones."""
    load("GDSegment")
    image = Volume.read(itk_example("BrainProtonDensitySlice.png"))
    volume = nodes.addVolumeNode(image, "PD")
    truth = image.with_array((image.array > 90).astype(np.uint8))
    reference = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLSegmentationNode", "reference")
    results.updateSegmentationFromLabels(reference, truth, [{"value": 1, "name": "bright", "color": [1, 0.5, 0]}],
                                         volume)
    logic = GDSegment.GDSegmentLogic()
    events = []
    model = logic.train(tmp_path / "bright.pt", volume, reference, epochs=4, patch=[64, 64], device="cpu",
                        batch_size=4, samples_per_case=8, progress=events.append)
    assert model.is_file() and any(e.get("event") == "progress" and e.get("loss") for e in events)
    segmentation, table = logic.segment(volume, model, reference=reference, device="cpu")
    segment = segmentation.GetSegmentation().GetSegment(segmentation.GetSegmentation().GetNthSegmentID(0))
    assert segment.GetName() == "bright" and np.allclose(segment.GetColor(), (1, 0.5, 0))
    assert table.GetColumnName(1) == "Dice" and table.GetCellText(0, 0) == "bright"
    assert 0.0 <= float(table.GetCellText(0, 1)) <= 1.0


@pytest.mark.slow
def test_train_a_lesion_detector_on_scene_nodes_then_find_lesions(tmp_path):
    """Volume + lesion segmentation -> detect.train job -> a U-Net lesion detector -> ROI nodes and a table;
    options of another detector pipeline are refused before any training."""
    load("GDSegment")
    case = lesion_volumes(1, seed=3, count=(3, 3), diameter=(10.0, 20.0), contrast=(0.4, 0.6))[0]
    volume = nodes.addVolumeNode(case.image, "brain")
    lesions = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLSegmentationNode", "lesions")
    results.updateSegmentationFromLabels(lesions, case.label.with_array((case.label.array > 0).astype(np.uint8)),
                                         [{"value": 1, "name": "lesion", "color": [1, 0, 0]}], volume)
    logic = GDSegment.GDSegmentLogic()
    with pytest.raises(InputError, match="whole volumes"):
        logic.train(tmp_path / "x.pt", volume, lesions, task="detect", size=128)
    assert not (tmp_path / "x.pt").exists()
    events = []
    model = logic.train(tmp_path / "lesions.pt", volume, lesions, task="detect", epochs=2, device="cpu",
                        batch_size=4, spacing=[4, 4, 4], patch_size=[24, 24, 24], patches_per_volume=4,
                        progress=events.append)
    card = load_model_file(model, task="detect")["card"]
    assert card["pipeline"] == "segmentation" and card["data"]["train_cases"] == ["scene"]
    assert card["data"]["foreground_fraction"][0] > 0          # the segmentation's lesions reached the job
    assert any(e.get("event") == "progress" and e.get("loss") for e in events)
    rois, table = logic.detect(volume, model, threshold=0.0, device="cpu")
    assert table.GetNumberOfRows() == len(rois)


@pytest.mark.slow
def test_train_a_classifier_on_a_folder_of_class_subfolders_then_classify_a_volume(tmp_path):
    """Images sorted into one sub-folder per class -> classify.train job -> a classifier selected by class name;
    a volume node of the scene then gets one probability per class. The scene alone cannot teach classes."""
    load("GDSegment")
    for n, s in enumerate(lesion_patches(4, seed=1, negatives=1, diameter=(8.0, 20.0), contrast=(0.3, 0.6))):
        grid = Volume(np.zeros((32, 32, 32)), spacing=(1.0,) * 3, origin=tuple(s.box[:3] + 0.5))
        (tmp_path / "data" / s.label).mkdir(parents=True, exist_ok=True)
        s.image.resample_to(grid).write(tmp_path / "data" / s.label / f"patch{n:02d}.nii.gz")
    (tmp_path / "data" / "notes.txt").write_text("not an image")
    logic = GDSegment.GDSegmentLogic()
    with pytest.raises(ValueError, match="sub-folder of images per class"):
        logic.prepareTraining(tmp_path / "c.pt", task="classify")
    events = []
    model = logic.train(tmp_path / "c.pt", folder=tmp_path / "data", task="classify", network="resnet10",
                        epochs=2, batch_size=4, size=[16, 16, 16], device="cpu", progress=events.append)
    card = load_model_file(model, task="classify")["card"]
    assert card["classes"] == sorted(p.name for p in (tmp_path / "data").iterdir() if p.is_dir())
    assert any(e.get("event") == "progress" and e.get("loss") for e in events)
    volume = nodes.addVolumeNode(Volume.read(next((tmp_path / "data" / "present").iterdir())), "patch")
    table = logic.classify(volume, model, device="cpu")
    assert table.GetNumberOfRows() == 2
    assert sum(float(table.GetCellText(r, 1)) for r in range(2)) == pytest.approx(1.0, abs=1e-4)


def node_counts() -> dict:
    from collections import Counter
    scene = slicer.mrmlScene
    return Counter(scene.GetNthNode(i).GetClassName() for i in range(scene.GetNumberOfNodes()))


def test_reading_and_writing_segments_leaves_no_helper_nodes_in_the_scene():
    load("GDSegment")
    t1, atlas = crop("ch2bet.nii.gz"), crop("aal.nii.gz")
    volume = nodes.addVolumeNode(t1, "T1")
    segmentation = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLSegmentationNode", "mine")
    segmentation.CreateDefaultDisplayNodes()
    before = node_counts()
    results.updateSegmentationFromLabels(segmentation, atlas, AAL, volume)
    results.labelsFromSegmentation(segmentation, volume)
    assert node_counts() == before  # no label maps, label map display nodes or colour tables left behind


def test_a_failed_load_leaves_the_users_segments_as_they_were(monkeypatch):
    load("GDSegment")
    t1, atlas = crop("ch2bet.nii.gz"), crop("aal.nii.gz")
    volume = nodes.addVolumeNode(t1, "T1")
    segmentation = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLSegmentationNode", "mine")
    results.updateSegmentationFromLabels(segmentation, atlas, AAL[:1], volume)
    mine = results.labelsFromSegmentation(segmentation, volume)[0].array
    logic = slicer.modules.segmentations.logic()
    calls = []
    real = logic.ImportLabelmapToSegmentationNode

    def fail_on_second(*args):
        calls.append(1)
        if len(calls) == 2:
            raise MemoryError("out of memory while importing")
        return real(*args)

    monkeypatch.setattr(slicer.modules.segmentations, "logic", lambda: type("L", (), {
        "ImportLabelmapToSegmentationNode": staticmethod(fail_on_second),
        "ExportSegmentsToLabelmapNode": staticmethod(logic.ExportSegmentsToLabelmapNode)})())
    before = node_counts()
    with pytest.raises(MemoryError):
        results.updateSegmentationFromLabels(segmentation, atlas, AAL, volume)
    monkeypatch.undo()
    seg = segmentation.GetSegmentation()
    assert seg.GetNumberOfSegments() == 1 and seg.GetNthSegment(0).GetName() == AAL[0]["name"]
    assert node_counts() == before
    assert np.array_equal(results.labelsFromSegmentation(segmentation, volume)[0].array, mine)


def test_results_follow_the_transform_their_volume_is_under():
    """Computed in the volume's own frame, a segmentation and detections go under the volume's transform; an ROI
    under another transform reaches the classifier as a box in the volume's frame."""
    load("GDSegment")
    atlas = crop("aal.nii.gz")
    volume = nodes.addVolumeNode(atlas, "atlas")
    shift = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLLinearTransformNode", "placement")
    m = np.eye(4)
    m[:3, 3] = (10.0, -4.0, 2.5)
    shift.SetMatrixTransformToParent(slicer.util.vtkMatrixFromArray(m))
    volume.SetAndObserveTransformNodeID(shift.GetID())
    logic = GDSegment.GDSegmentLogic()
    labels = atlas.with_array((atlas.array == 1).astype(np.uint8))
    result = {"outputs": {"labels": str(labels.write(Path(slicer.app.temporaryPath) / "labels.nii"))},
              "summary": {"labels": AAL[:1]}}
    segmentation, _ = logic.applySegmentation(result, volume)
    assert segmentation.GetTransformNodeID() == shift.GetID()
    box = {"min_lps": [-20.0, 5.0, 30.0], "max_lps": [10.0, 45.0, 52.5], "score": 0.9}
    rois, _ = logic.applyDetection({"summary": {"boxes": [box]}}, volume=volume)
    assert rois[0].GetTransformNodeID() == shift.GetID()
    assert np.allclose(GDSegment.roiToLPSBox(rois[0], volume), box["min_lps"] + box["max_lps"])
    world_roi = results.roisFromBoxes([box])[0]  # the same numbers, but in world coordinates
    expected = np.array(box["min_lps"] + box["max_lps"]) - np.r_[m[:3, 3], m[:3, 3]] * np.r_[-1, -1, 1, -1, -1, 1]
    assert np.allclose(GDSegment.roiToLPSBox(world_roi, volume), expected)
