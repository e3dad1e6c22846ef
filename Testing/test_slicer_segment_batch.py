"""GD Segment's inputs beyond one volume, on real Slicer Core: a model of several input channels asks for one volume
per channel (named after it) and gets them on the first channel's grid; a section run on every image file of a
folder writes one result file per input beside them, reports files that cannot be read, and Cancel leaves no half
result."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from gdbackend.errors import InputError, ModelError
from gdbackend.sample_data import itk_example
from gdbackend.segment import network_arguments
from gdbackend.train import save_checkpoint
from gdbackend.volume import Volume
from slicer_double import load

load("GDSegment")
import slicer  # noqa: E402
from test_slicer_panels import spin  # noqa: E402
from test_slicer_segment_ux import fresh_settings, segment_model  # noqa: E402, F401  (fixture)

from GDImagingLib import nodes, segmentpanel  # noqa: E402
from GDImagingLib.jobs import runJobHere  # noqa: E402
from GDImagingLib.segmentlogic import SegmentationLogic, channelsOnGrid  # noqa: E402

PD, T2 = "BrainProtonDensitySlice.png", "BrainT1Slice.png"


def two_channel_model(path: Path) -> Path:
    """An (untrained) 2D U-Net of two input channels, PD and T1, with a full model card."""
    args = network_arguments("unet", 2, 2, 2, {"channels": [4, 8], "strides": [2], "num_res_units": 0})
    card = {"task": "segment", "network": "unet", "arguments": args, "spatial_dims": 2, "in_channels": 2,
            "channels": ["PD", "T1"], "spacing": [2.0, 2.0], "normalisation": "percentile", "patch": [32, 32],
            "labels": [{"value": 1, "name": "bright", "color": [1.0, 0.5, 0.0]}]}
    from gdbackend.segment import build_network
    return save_checkpoint(path, build_network("unet", args).state_dict(), card)


def volume(name: str, file: str, spacing=None):
    image = Volume.read(itk_example(file))
    if spacing is not None:   # another grid: a coarser copy, placed 5 mm off
        image = Volume.from_sitk(sitk.Resample(image.to_sitk(), [s // 2 for s in image.to_sitk().GetSize()],
                                               sitk.Transform(), sitk.sitkLinear, (5.0, 5.0), spacing))
    return nodes.addVolumeNode(image, name)


# ---------------------------------------------------------------- channels
def test_other_channels_are_resampled_onto_the_first_channels_grid():
    first, second = volume("PD", PD), volume("T1 coarse", T2, spacing=(2.0, 2.0))
    [resampled] = channelsOnGrid(first, [second])
    grid = nodes.volumeFromNode(first)
    assert resampled.same_grid(grid)
    coarse = nodes.volumeFromNode(second)
    point = np.array([60.0, 80.0])      # LPS mm, inside both: the same anatomy in both copies
    ijk_fine = np.rint((point - grid.origin) / grid.spacing).astype(int)
    ijk_coarse = np.rint((point - coarse.origin) / coarse.spacing).astype(int)
    assert abs(float(resampled.array[ijk_fine[1], ijk_fine[0]]) - float(coarse.array[ijk_coarse[1], ijk_coarse[0]])) \
        < 0.1 * float(coarse.array.max())
    same = volume("T1", T2)
    assert np.array_equal(channelsOnGrid(first, [same])[0].array, nodes.volumeFromNode(same).array)  # as it was


def test_a_two_channel_model_segments_with_one_volume_per_channel(tmp_path):
    model = two_channel_model(tmp_path / "pd_t1.pt")
    first, second = volume("PD", PD), volume("T1", T2, spacing=(2.0, 2.0))
    logic = SegmentationLogic()
    segmentation, _ = logic.segment(first, model, device="cpu", channels=[second])
    assert segmentation.GetSegmentation().GetNumberOfSegments() == 1
    with pytest.raises(ModelError, match=r"expects 2 input channel\(s\) \(PD, T1\) but 1 image"):
        logic.segment(first, model, device="cpu")


def test_a_channel_given_without_those_before_it_is_refused():
    from gdbackend.jobs.segment import channel_files
    with pytest.raises(InputError, match="image_3 were given without those before them"):
        channel_files({"image": Path("a.nii"), "image_3": Path("c.nii")})


def test_the_panel_shows_one_selector_per_channel_and_says_which_is_missing(tmp_path, slicer_panel):
    bundle = tmp_path / "brats_like"
    (bundle / "configs").mkdir(parents=True)
    (bundle / "configs" / "metadata.json").write_text(json.dumps({"network_data_format": {"inputs": {"image": {
        "num_channels": 3, "channel_def": {"0": "T1c", "1": "T2", "2": "FLAIR"}}}}}))
    widget = slicer_panel("GDSegment")
    p = widget._parameterNode
    p.segmentVolume, p.segmentModel = volume("T1c", PD), bundle
    ui = widget.ui
    assert ui.segmentVolumeLabel.text == "T1c:" and ui.segmentChannel2Label.text == "T2:"
    assert ui.segmentChannel3Label.text == "FLAIR:" and not ui.segmentChannel3Selector.isHidden()
    assert ui.segmentChannel4Selector.isHidden()   # (the panel itself is not on screen: isVisible would be False)
    assert ui.segmentReasonLabel.text == "Select a volume for each channel: T2, FLAIR."
    assert not ui.segmentButton.enabled
    p.segmentChannel2, p.segmentChannel3 = volume("T2", T2), volume("FLAIR", T2)
    assert not ui.segmentReasonLabel.text and ui.segmentButton.enabled
    p.segmentAllVolumes = True
    assert "segment one case at a time" in ui.segmentReasonLabel.text
    p.segmentAllVolumes, p.segmentModel = False, segment_model(tmp_path / "one.pt")   # one channel: rows hidden
    assert ui.segmentVolumeLabel.text == "Input volume:" and ui.segmentChannel2Selector.isHidden()


# ---------------------------------------------------------------- a folder
@pytest.fixture
def image_folder(tmp_path) -> Path:
    folder = tmp_path / "cases"
    folder.mkdir()
    for name, file in (("case1.nii.gz", PD), ("case2.nrrd", T2)):
        Volume.read(itk_example(file)).write(folder / name)
    (folder / "broken.nii.gz").write_bytes(b"not an image")
    (folder / "notes.txt").write_text("not an image either: not listed")
    return folder


def test_every_image_of_a_folder_gets_a_result_file_named_after_it(tmp_path, image_folder, slicer_panel):
    widget = slicer_panel("GDSegment")
    p = widget._parameterNode
    p.segmentModel, p.segmentDevice, p.segmentFolder = segment_model(tmp_path / "m.pt"), "cpu", image_folder
    nodes_before = slicer.mrmlScene.GetNumberOfNodes()
    statuses = []
    widget.ui.segmentButton.click()
    spin(lambda: statuses.append(widget.ui.segmentStatusLabel.text) or "segment" not in widget.batches, 300)
    log = widget.ui.logTextEdit.toPlainText()
    assert widget.ui.segmentStatusLabel.text == "Done: 2 of 3 files; failed: broken.nii.gz (see the log).", log
    assert any(s.startswith("(2/3) case1.nii.gz:") for s in statuses)
    assert "(1/3) broken.nii.gz:" in log   # the reader's reason is in the log
    results = image_folder / "GDImaging segment"
    assert sorted(f.name for f in results.iterdir()) == ["case1 segmentation.nii.gz", "case2 segmentation.nii.gz"]
    labels = Volume.read(results / "case1 segmentation.nii.gz")
    assert labels.same_grid(Volume.read(image_folder / "case1.nii.gz"))
    assert slicer.mrmlScene.GetNumberOfNodes() == nodes_before   # files only: nothing loaded into the scene

    for f in results.iterdir():
        f.unlink()
    widget.ui.segmentButton.click()
    assert widget.runners["segment"].running
    widget.ui.segmentButton.click()   # Cancel: the running job stops, no other starts, no result is left
    assert widget.ui.segmentStatusLabel.text == "Cancelled after 0 of 3 files: the rest were not started."
    spin(lambda: True, 1)
    assert list(results.iterdir()) == []


def test_a_folder_and_all_volumes_together_or_a_missing_folder_are_refused_with_the_reason(tmp_path):
    from types import SimpleNamespace
    empty = dict.fromkeys(["segmentVolume", "classifyVolume", "detectVolume", "trainVolume", "trainSegmentation",
                           "trainFolder", "trainOutput", "classifyFolder", "detectFolder"])
    p = SimpleNamespace(**empty, segmentAllVolumes=True, classifyAllVolumes=False, detectAllVolumes=False,
                        segmentFolder=tmp_path, segmentModel=tmp_path / "m.pt", classifyModel=None, detectModel=None,
                        trainTask="segmentation")
    assert "not both" in segmentpanel.reasons(p, {})["segment"]
    p.segmentAllVolumes, p.segmentFolder = False, tmp_path / "gone"
    assert "does not exist" in segmentpanel.reasons(p, {})["segment"]
    p.segmentFolder = tmp_path
    assert segmentpanel.reasons(p, {})["segment"] == ""
    from GDImagingLib.batch import folderImages
    with pytest.raises(ValueError, match="holds no image files"):
        folderImages(tmp_path)


def test_a_folder_job_writes_its_result_only_when_it_succeeds(tmp_path, image_folder):
    """The runner's staging: a job whose input cannot be read leaves no result file."""
    out = tmp_path / "out"
    out.mkdir()
    logic = SegmentationLogic()
    spec = logic.prepareFileJob("segment", image_folder / "broken.nii.gz", segment_model(tmp_path / "m.pt"), out,
                                "cpu")
    with pytest.raises(Exception):
        runJobHere(spec, lambda result: result)
    assert list(out.iterdir()) == []
