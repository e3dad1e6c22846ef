"""GD Register's controls on real Slicer Core: presets (GDImaging's and the user's, kept in Slicer's settings),
an initial transform, and the result shown in the slice views (fixed volume behind, result over it)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
import vtk

from gdbackend.errors import InputError
from gdbackend.sample_data import mricron
from gdbackend.volume import Volume
from slicer_double import load

GDRegister = load("GDRegister")
import qt  # noqa: E402  (the double's, installed by load)
import slicer  # noqa: E402

from GDImagingLib import nodes  # noqa: E402
from GDRegisterLib import presetchoice  # noqa: E402

FLIP = np.diag([-1.0, -1.0, 1.0, 1.0])   # LPS <-> RAS


def matrix(getter) -> np.ndarray:
    m = vtk.vtkMatrix4x4()
    getter(m)
    return slicer.util.arrayFromVTKMatrix(m)


def lps_matrix(transform: sitk.Transform) -> np.ndarray:
    m = np.eye(4)
    m[:3, :3] = np.array(transform.GetMatrix()).reshape(3, 3)
    m[:3, 3] = np.array(transform.TransformPoint((0.0, 0.0, 0.0)))
    return m


@pytest.fixture
def no_saved_presets():
    qt.QSettings().remove("GDImaging/" + presetchoice.SETTINGS_KEY)
    yield
    qt.QSettings().remove("GDImaging/" + presetchoice.SETTINGS_KEY)


def test_a_preset_sets_the_panel_and_a_saved_one_is_kept_in_the_settings(slicer_panel, no_saved_presets):
    widget = slicer_panel("GDRegister")
    combo, p = widget.ui.presetComboBox, widget._parameterNode
    index = combo.findData("brain-mri-deformable")
    assert index > 0 and combo.itemText(index) == "Brain MRI: rigid + affine + B-spline"
    combo.setCurrentIndex(index)
    combo.activated.emit(index)           # as a user's choice in the list
    assert (p.transform, p.metric, p.levels) == ("rigid,affine,bspline", "mi", 3)
    assert widget.ui.transformComboBox.currentText == "rigid,affine,bspline"   # the widgets follow
    p.metric, p.levels, p.initialize, p.searchRotation = "ncc", 2, "moments", True
    assert widget.ui.searchRotationCheckBox.checked
    widget.savePreset("My NCC, two levels")
    assert combo.currentIndex == combo.findData("my-ncc-two-levels") > index
    saved = json.loads(qt.QSettings().value("GDImaging/register/presets"))
    assert saved["presets"][0]["options"] == {"transform": ["rigid", "affine", "bspline"], "metric": "ncc",
                                              "levels": 2, "iterations": 200, "initialize": "moments",
                                              "rotation_search": 180.0}
    # another session lists it after GDImaging's own, and choosing it gives the same options back
    preset = presetchoice.presets()["my-ncc-two-levels"]
    assert list(presetchoice.presets())[-1] == "my-ncc-two-levels"
    assert presetchoice.parameterValues(preset) == {"transform": "rigid,affine,bspline", "metric": "ncc",
                                                    "optimizer": "sgd", "levels": 2, "iterations": 200,
                                                    "learningRate": 0.0, "initialize": "moments",
                                                    "searchRotation": True}


def test_a_bad_preset_name_or_broken_saved_presets_are_reported(slicer_panel, no_saved_presets):
    with pytest.raises(InputError, match="at least one letter"):
        presetchoice.savePreset(" -- ", {"transform": ["rigid"]})
    qt.QSettings().setValue("GDImaging/" + presetchoice.SETTINGS_KEY, "{broken")
    assert "ct-to-ct" in presetchoice.presets()   # GDImaging's own stay listed
    widget = slicer_panel("GDRegister")
    assert widget.ui.presetComboBox.findData("ct-to-ct") > 0


def rotated_pair():
    """Colin27 at 3 mm and the same brain rotated by 20 degrees about its centre and shifted:
    moving(x) = fixed(motion(x)) (LPS)."""
    image = sitk.Cast(sitk.Shrink(sitk.ReadImage(str(mricron("ch2bet.nii.gz"))), [3, 3, 3]), sitk.sitkFloat32)
    centre = image.TransformContinuousIndexToPhysicalPoint([s / 2 for s in image.GetSize()])
    motion = sitk.Euler3DTransform(centre, 0.0, 0.0, np.deg2rad(20), (4.0, -3.0, 2.0))
    rotation = sitk.Euler3DTransform(centre, 0.0, 0.0, np.deg2rad(20))
    fixed = nodes.addVolumeNode(Volume.from_sitk(image), "fixed")
    moving = nodes.addVolumeNode(Volume.from_sitk(sitk.Resample(image, motion)), "moving")
    return fixed, moving, FLIP @ lps_matrix(motion) @ FLIP, FLIP @ lps_matrix(rotation) @ FLIP


def test_an_initial_transform_places_the_moving_volume_and_is_composed_into_the_result():
    """A translation alone cannot undo a 20 degree rotation; from the user's initial transform that undoes it,
    the registration finds the shift, and the result (the moving volume goes under it alone) is the whole
    motion. The initial transform node is left as it was, and the moving volume is not put under it."""
    load("GDRegister")
    fixed, moving, motion, rotation = rotated_pair()
    initial = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLLinearTransformNode", "manual alignment")
    initial.SetMatrixTransformToParent(slicer.util.vtkMatrixFromArray(rotation))
    logic = GDRegister.GDRegisterLogic()
    spec = json.loads(Path(logic.prepareJob(fixed, moving, transform="translation",
                                            initialTransform=initial)).read_text())
    assert spec["options"]["initialize"] == "none"   # it starts from the initial transform
    written = Volume.read(spec["inputs"]["moving"]).ijk_to_ras()
    assert np.allclose(written, rotation @ matrix(moving.GetIJKToRASMatrix), atol=1e-4)
    node = logic.register(fixed, moving, transform="translation", levels=2, iterations=150, device="cpu",
                          initialTransform=initial)
    assert moving.GetTransformNodeID() == node.GetID() and initial.GetTransformNodeID() is None
    assert np.allclose(matrix(initial.GetMatrixTransformToParent), rotation)
    assert np.allclose(matrix(node.GetMatrixTransformToParent), motion, atol=0.3)
    # the views show the fixed volume with the moved one over it
    for composite in slicer.util.getNodesByClass("vtkMRMLSliceCompositeNode"):
        assert composite.GetBackgroundVolumeID() == fixed.GetID()
        assert composite.GetForegroundVolumeID() == moving.GetID() and composite.GetForegroundOpacity() == 0.5


def test_an_initial_transform_the_moving_volume_is_already_under_counts_once():
    load("GDRegister")
    fixed, moving, motion, rotation = rotated_pair()
    initial = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLLinearTransformNode", "manual alignment")
    initial.SetMatrixTransformToParent(slicer.util.vtkMatrixFromArray(rotation))
    moving.SetAndObserveTransformNodeID(initial.GetID())
    node = GDRegister.GDRegisterLogic().register(fixed, moving, transform="translation", levels=2, iterations=150,
                                                 device="cpu", initialTransform=initial)
    assert np.allclose(matrix(node.GetMatrixTransformToParent), motion, atol=0.3)


def test_an_initial_transform_with_a_deformable_stage_is_refused_with_a_reason():
    load("GDRegister")
    fixed, moving, _, rotation = rotated_pair()
    initial = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLLinearTransformNode", "manual alignment")
    with pytest.raises(InputError, match="placed by the transform manual alignment.*no initial transform"):
        GDRegister.GDRegisterLogic().prepareJob(fixed, moving, transform="affine,dense", initialTransform=initial)


def test_a_run_fills_the_log_and_the_device_is_kept_for_the_next_session(slicer_panel):
    from test_slicer_panels import slices, spin
    qt.QSettings().remove("GDImaging/" + GDRegister.DEVICE_SETTING)
    widget = slicer_panel("GDRegister")
    fixed, moving = slices()
    p = widget._parameterNode
    p.fixedVolume, p.movingVolume, p.transform, p.iterations, p.device = fixed, moving, "translation", 50, "cpu"
    widget.ui.applyButton.click()
    spin(lambda: not widget.runner.running)
    assert "Done" in widget.ui.statusLabel.text, widget.ui.statusLabel.text
    assert widget.ui.logTextEdit.toPlainText().strip(), "the job's output is in the log pane"
    assert qt.QSettings().value("GDImaging/" + GDRegister.DEVICE_SETTING) == "cpu"
    slicer.mrmlScene.Clear(0)             # a new scene: the parameter node is reset, the device comes back
    p.device = "auto"
    slicer.mrmlScene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "another")
    p.fixedVolume = None
    widget.initializeParameterNode()
    assert widget._parameterNode.device == "cpu"
    qt.QSettings().remove("GDImaging/" + GDRegister.DEVICE_SETTING)
