"""Slicer segmentation files (.seg.nrrd), written by real Slicer Core's segmentation storage node, as training and
evaluation labels: segments mapped to labels by name (their values in the file are Slicer's own), overlapping
segments in layers, cases paired by name, and `gd segment train` without --labels taking the segments' names."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_slicer_segment import AAL, crop, nodes, results, slicer

from gdbackend.cli import main
from gdbackend.errors import InputError
from gdbackend.segment import check_case, find_pairs, labels_from_files, load_cases
from gdbackend.segmentation_file import labels_of, read_label_map, segments_of

MOTOR = "Motor_strip"     # a segment over Precentral_L and Precentral_R: it overlaps both, so Slicer adds a layer


def save_segmentation(atlas, volume, path: Path, overlap: bool) -> Path:
    """AAL's three regions as a Slicer segmentation of `volume`, saved as Slicer saves it; with `overlap`, a
    fourth segment over two of them."""
    segmentation = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLSegmentationNode")
    results.updateSegmentationFromLabels(segmentation, atlas, AAL, volume)
    if overlap:
        segment_id = segmentation.GetSegmentation().AddEmptySegment("", MOTOR)
        motor = np.isin(atlas.array, [1, 2]).astype(np.uint8)
        slicer.util.updateSegmentBinaryLabelmapFromArray(motor, segmentation, segment_id, volume)
    storage = segmentation.CreateDefaultStorageNode()
    storage.SetFileName(str(path))
    assert storage.WriteData(segmentation)
    return path


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    """A data folder of two cases (images/NAME.nii.gz, labels/NAME.seg.nrrd), one with overlapping segments."""
    root = tmp_path_factory.mktemp("segfiles")
    (root / "images").mkdir()
    (root / "labels").mkdir()
    t1, atlas = crop("ch2bet.nii.gz"), crop("aal.nii.gz")
    volume = nodes.addVolumeNode(t1, "T1")
    for name, overlap in (("flat", False), ("layered", True)):
        t1.write(root / "images" / f"{name}.nii.gz")
        save_segmentation(atlas, volume, root / "labels" / f"{name}.seg.nrrd", overlap)
    return root, t1, atlas


def test_segments_are_read_by_name_and_layer(cases):
    root, t1, atlas = cases
    layered = segments_of(root / "labels" / "layered.seg.nrrd")
    assert [s["name"] for s in layered] == [a["name"] for a in AAL] + [MOTOR]
    assert layered[-1]["layer"] != layered[0]["layer"]          # Slicer put the overlapping segment in a layer
    assert np.allclose(layered[0]["color"], AAL[0]["color"], atol=0.01)
    labels = [{"value": 7, "name": "Precentral_L"}, {"value": 8, "name": "Precentral_R"},
              {"value": 19, "name": "Supp_Motor_Area_L"}, {"value": 20, "name": MOTOR}]
    label = read_label_map(root / "labels" / "layered.seg.nrrd", labels)
    expected = np.select([np.isin(atlas.array, [1, 2]), atlas.array == 19], [20, 19], 0)    # the later one wins
    assert label.same_grid(t1) and np.array_equal(label.array, expected)
    flat = read_label_map(root / "labels" / "flat.seg.nrrd", labels)
    assert np.array_equal(flat.array, np.select([atlas.array == 1, atlas.array == 2, atlas.array == 19], [7, 8, 19]))
    with pytest.raises(InputError, match=rf"segment\(s\) \['{MOTOR}'\] that the label list"):
        read_label_map(root / "labels" / "layered.seg.nrrd", labels[:3])


def test_cases_pair_with_their_segmentations_and_name_their_labels(cases):
    root, t1, atlas = cases
    assert [name for name, _, _ in find_pairs(root)] == ["flat", "layered"]
    labels = labels_from_files(root)
    assert [(lb["value"], lb["name"]) for lb in labels] == [(1, "Precentral_L"), (2, "Precentral_R"),
                                                             (3, "Supp_Motor_Area_L"), (4, MOTOR)]
    for case in load_cases(root, labels):
        check_case(case, labels)
    with pytest.raises(InputError, match="without segment names"):
        labels_of([root / "images" / "flat.nii.gz"])


def test_gd_segment_trains_and_evaluates_on_segmentation_files_without_labels(cases, tmp_path, capsys):
    from gdbackend.segment import load_model
    root, _, _ = cases
    model = tmp_path / "regions.pt"
    assert main(["segment", "train", "--data", str(root), "--out", str(model), "--epochs", "1", "--patch", "32",
                 "--samples-per-case", "1", "--val-fraction", "0", "--device", "cpu", "--json"]) == 0
    labels = load_model(str(model), "cpu")[1]["labels"]
    assert [(lb["value"], lb["name"]) for lb in labels] == [(1, "Precentral_L"), (2, "Precentral_R"),
                                                             (3, "Supp_Motor_Area_L"), (4, MOTOR)]
    assert all(np.allclose(lb["color"], a["color"], atol=0.01) for lb, a in zip(labels, AAL))   # Slicer's colours
    capsys.readouterr()
    assert main(["segment", "evaluate", "--model", str(model), "--data", str(root), "--device", "cpu",
                 "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {f"dice_{lb['name']}" for lb in labels} <= set(summary["mean"]) and len(summary["per_case"]) == 2


def test_the_panel_trains_on_a_folder_by_its_segment_names_or_one_foreground(cases, tmp_path):
    """GD Segment's training from a folder: the segments its .seg.nrrd files name, or, for plain label maps,
    one foreground label (the panel asks for no label list)."""
    from gdbackend.train import load_model_file
    from slicer_double import load
    root, t1, atlas = cases
    logic = load("GDSegment").GDSegmentLogic()
    short = {"task": "segment", "epochs": 1, "patch": [32, 32, 32], "samples_per_case": 1, "val_fraction": 0,
             "device": "cpu"}
    model = logic.train(tmp_path / "named.pt", folder=root, **short)
    assert [lb["name"] for lb in load_model_file(model, task="segment")["card"]["labels"]] == \
        [a["name"] for a in AAL] + [MOTOR]
    plain = tmp_path / "plain"
    for sub in ("images", "labels"):
        (plain / sub).mkdir(parents=True)
    t1.write(plain / "images" / "head.nii.gz")
    atlas.with_array((atlas.array == 1).astype(np.uint8)).write(plain / "labels" / "head.nii.gz")
    model = logic.train(tmp_path / "plain.pt", folder=plain, **short)
    assert [(lb["value"], lb["name"]) for lb in load_model_file(model, task="segment")["card"]["labels"]] == \
        [(1, "foreground")]


def test_predictions_written_as_segmentations_open_in_slicer_with_names_and_colours(cases, tmp_path, capsys):
    """`gd segment predict --format seg.nrrd` with the shipped brain-extraction model: the file real Slicer Core's
    segmentation storage node reads back has the model's label as a named, coloured segment on the image's grid,
    with the voxels of the .nii.gz prediction."""
    from gdbackend import Volume
    root, t1, _ = cases
    image = root / "images" / "flat.nii.gz"
    for fmt in ("nii.gz", "seg.nrrd"):
        assert main(["segment", "predict", "--model", "brain-extraction-t1", str(image), "--out", str(tmp_path),
                     "--format", fmt, "--device", "cpu", "--json"]) == 0
    plain = Volume.read(tmp_path / "flat.nii.gz")
    segmentation = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLSegmentationNode")
    storage = slicer.mrmlScene.AddNode(slicer.vtkMRMLSegmentationStorageNode())
    storage.SetFileName(str(tmp_path / "flat.seg.nrrd"))
    assert storage.ReadData(segmentation)
    seg = segmentation.GetSegmentation()
    assert seg.GetNumberOfSegments() == 1 and seg.GetSegment(seg.GetNthSegmentID(0)).GetName() == "brain"
    volume = nodes.addVolumeNode(t1, "T1")
    mask = slicer.util.arrayFromSegmentBinaryLabelmap(segmentation, seg.GetNthSegmentID(0), volume)
    assert plain.array.any() and np.array_equal(mask > 0, plain.array == 1)


def test_segmentations_of_slicer_before_layers_hold_a_segment_per_component(cases, tmp_path):
    """Slicer before 4.11 wrote one component per segment (0/1 voxels) and no layer or value fields."""
    import SimpleITK as sitk
    root, t1, atlas = cases
    parts = [sitk.GetImageFromArray(np.isin(atlas.array, values).astype(np.uint8)) for values in ([1, 2], [2, 19])]
    image = sitk.Compose(parts)
    image.CopyInformation(t1.to_sitk())
    for n, name in enumerate(("motor", "right")):
        image.SetMetaData(f"Segment{n}_Name", name)
    sitk.WriteImage(image, str(tmp_path / "old.seg.nrrd"), True)
    assert [(s["layer"], s["value"]) for s in segments_of(tmp_path / "old.seg.nrrd")] == [(0, 1), (1, 1)]
    label = read_label_map(tmp_path / "old.seg.nrrd", [{"value": 1, "name": "motor"}, {"value": 2, "name": "right"}])
    assert np.array_equal(label.array, np.select([np.isin(atlas.array, [2, 19]), atlas.array == 1], [2, 1], 0))


def test_a_segmentation_with_overlapping_segments_is_a_mask_like_any_image(cases, tmp_path, capsys):
    """Volume.read (every command's reader: masks, images) gives a .seg.nrrd as a label map of its segments, so a
    Slicer segmentation with layers serves as a registration mask."""
    from gdbackend import Volume
    root, t1, atlas = cases
    mask = Volume.read(root / "labels" / "layered.seg.nrrd")
    assert mask.same_grid(t1) and np.array_equal(mask.array > 0, np.isin(atlas.array, [1, 2, 19]))
    moving = t1.with_array(np.roll(t1.array, 2, axis=2))
    moving.write(tmp_path / "moving.nii.gz")
    assert main(["register", str(root / "images" / "flat.nii.gz"), str(tmp_path / "moving.nii.gz"),
                 "--fixed-mask", str(root / "labels" / "layered.seg.nrrd"), "--transform", "translation",
                 "--output-transform", str(tmp_path / "t.tfm"), "--json", "--device", "cpu"]) == 0
    shift = np.array(json.loads(capsys.readouterr().out.strip().splitlines()[-1])["parameters"])[:3, 3]
    assert np.abs(shift - 2 * t1.spacing[0] * t1.direction[:, 0]).max() < 0.2, shift
