"""GDRegister's Logic on the Slicer double with real images: node <-> Volume geometry, and a registration
result that, placed as a transform node, moves the moving volume onto the fixed one (checked in RAS)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
import vtk

from gdbackend.sample_data import itk_example, mricron
from gdbackend.volume import Volume
from slicer_double import load

GDRegister = load("GDRegister")
import slicer  # noqa: E402  (the double, installed by load)

from GDImagingLib import nodes  # noqa: E402


def matrix(getter) -> np.ndarray:
    m = vtk.vtkMatrix4x4()
    getter(m)
    return slicer.util.arrayFromVTKMatrix(m)


def sample(node, ras_points: np.ndarray) -> np.ndarray:
    """Intensities of a volume node at world RAS points, through its parent transform (nearest voxel)."""
    ras_to_ijk = matrix(node.GetRASToIJKMatrix)
    array = slicer.util.arrayFromVolume(node)
    local = []
    for p in ras_points:
        out = [0.0, 0.0, 0.0]
        node.TransformPointFromWorld(list(p), out)
        local.append(out)
    ijk = np.rint((np.c_[local, np.ones(len(local))] @ ras_to_ijk.T)[:, :3]).astype(int)
    inside = np.all((ijk >= 0) & (ijk < array.shape[::-1]), axis=1)
    values = np.full(len(ijk), np.nan)
    values[inside] = array[ijk[inside, 2], ijk[inside, 1], ijk[inside, 0]]
    return values


def test_oblique_volume_round_trips_through_a_node_in_ras():
    load("GDRegister")
    image = sitk.ReadImage(str(mricron("ch2bet.nii.gz")))[40:80, 50:90, 30:60]
    image.SetSpacing((0.9, 1.3, 2.1))
    rotation = sitk.VersorTransform((0.3, -0.2, 0.9), 0.6).GetMatrix()
    image.SetDirection(rotation)
    image.SetOrigin((12.5, -30.0, 7.25))
    volume = Volume.from_sitk(image)
    node = nodes.addVolumeNode(volume, "oblique")
    # the node's IJK-to-RAS, checked against ITK's own index -> LPS mapping, flipped to RAS
    ijk_to_ras = matrix(node.GetIJKToRASMatrix)
    for index in [(0, 0, 0), (39, 0, 0), (5, 17, 29), (39, 39, 29)]:
        lps = np.array(image.TransformIndexToPhysicalPoint(index))
        assert np.allclose((ijk_to_ras @ [*index, 1])[:3], lps * [-1, -1, 1], atol=1e-9)
    assert slicer.util.arrayFromVolume(node)[5, 17, 3] == volume.array[5, 17, 3]
    back = nodes.volumeFromNode(node)
    assert back.same_grid(volume, tol=1e-9) and np.array_equal(back.array, volume.array)
    assert np.allclose(back.direction, volume.direction) and np.allclose(back.spacing, (0.9, 1.3, 2.1))


def test_single_slices_keep_their_position():
    load("GDRegister")
    volume = Volume.read(itk_example("BrainProtonDensitySliceBorder20.png"))
    node = nodes.addVolumeNode(volume, "slice", sliceZ=-12.0)
    assert slicer.util.arrayFromVolume(node).shape == (1, *volume.array.shape)
    back = nodes.volumeFromNode(node)
    assert back.ndim == 2 and back.same_grid(volume)
    copy = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLScalarVolumeNode")
    nodes.updateNodeFromVolume(copy, back, nodes.sliceZ(node))
    assert np.allclose(matrix(copy.GetIJKToRASMatrix), matrix(node.GetIJKToRASMatrix))


def test_registration_result_moves_the_moving_volume_onto_the_fixed_one_in_ras():
    load("GDRegister")
    fixed = nodes.addVolumeNode(Volume.read(itk_example("BrainProtonDensitySliceBorder20.png")), "fixed")
    moving = nodes.addVolumeNode(Volume.read(itk_example("BrainProtonDensitySliceShifted13x17y.png")), "moving")
    resampled = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "resampled")
    progress = []
    node = GDRegister.GDRegisterLogic().register(fixed, moving, outputVolume=resampled, transform="translation",
                                                 levels=2, iterations=150, device="cpu", progress=progress.append)
    assert node.GetClassName() == "vtkMRMLLinearTransformNode"
    assert moving.GetTransformNodeID() == node.GetID()
    assert progress and progress[-1]["fraction"] == pytest.approx(1.0)
    # known answer: the moving image is the fixed one shifted by (13, 17) px; PNG pixels are 1 mm, LPS = (i, j)
    from_parent = matrix(node.GetMatrixTransformFromParent)
    ras = np.array([-50.0, -80.0, 0.0, 1.0])
    assert np.allclose(from_parent @ ras, [-63.0, -97.0, 0.0, 1.0], atol=0.05)
    # and the image: the moving node, seen through its transform, matches the fixed node at fixed RAS points
    j, i = np.mgrid[40:180:7, 40:180:7]
    ras_points = np.c_[-i.ravel(), -j.ravel(), np.zeros(i.size)]
    target = sample(fixed, ras_points)
    moved = sample(moving, ras_points)
    moving.SetAndObserveTransformNodeID(None)
    unmoved = sample(moving, ras_points)
    assert np.nanmean(np.abs(moved - target)) < 0.1 * np.nanmean(np.abs(unmoved - target))
    # the optional resampled volume lies on the fixed grid with the fixed contents
    out = slicer.util.arrayFromVolume(resampled)[0, 40:180, 40:180].astype(float)
    fixed_array = slicer.util.arrayFromVolume(fixed)[0, 40:180, 40:180].astype(float)
    assert np.allclose(matrix(resampled.GetIJKToRASMatrix), matrix(fixed.GetIJKToRASMatrix))
    assert np.abs(out - fixed_array).mean() < 0.05 * fixed_array.mean()


def test_an_existing_linear_node_is_reused_and_a_wrong_class_is_not():
    load("GDRegister")
    linear = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLLinearTransformNode", "mine")
    grid = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLGridTransformNode", "grid")
    assert nodes.transformNodeOfClass(linear, "vtkMRMLLinearTransformNode", "x") is linear
    other = nodes.transformNodeOfClass(grid, "vtkMRMLLinearTransformNode", "x")
    assert other is not grid and other.GetClassName() == "vtkMRMLLinearTransformNode"


def test_parameter_node_defaults_are_valid_registration_options():
    load("GDRegister")
    logic = GDRegister.GDRegisterLogic()
    p = logic.getParameterNode()
    options = logic.optionsFromParameterNode(p)
    assert p.transform in GDRegister.TRANSFORMS and options["levels"] == 3
    assert p.parameterNode.GetAttribute("ModuleName") == "GDRegister"
    assert logic.getParameterNode().parameterNode is p.parameterNode  # the scene's singleton


def test_a_deformable_result_becomes_a_grid_transform_node_that_aligns_the_volumes():
    from GDImagingLib.jobs import runJobHere
    load("GDRegister")
    image = sitk.Cast(sitk.Shrink(sitk.ReadImage(str(mricron("ch2bet.nii.gz"))), [3, 3, 3]), sitk.sitkFloat32)
    shift_lps = (4.0, -3.0, 2.0)  # moving(x) = fixed(x + shift): the answer maps fixed p to p - shift (LPS)
    shifted = sitk.Resample(image, image, sitk.TranslationTransform(3, shift_lps), sitk.sitkLinear, 0.0)
    fixed = nodes.addVolumeNode(Volume.from_sitk(image), "fixed")
    moving = nodes.addVolumeNode(Volume.from_sitk(shifted), "moving")
    logic = GDRegister.GDRegisterLogic()
    spec = logic.prepareJob(fixed, moving, transform="bspline", levels=2, iterations=100, device="cpu")
    grid = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLGridTransformNode", "mine")
    node = runJobHere(spec, lambda result: logic.applyResult(result, fixed, moving, outputTransform=grid))
    assert not Path(spec).parent.exists()  # the job's files (patient images) are gone
    assert node is grid and moving.GetTransformNodeID() == grid.GetID()
    assert slicer.mrmlScene.GetNumberOfNodesByClass("vtkMRMLGridTransformNode") == 1  # the loaded copy is gone
    k, j, i = np.mgrid[20:40:3, 25:47:3, 20:40:3]
    ijk = np.c_[i.ravel(), j.ravel(), k.ravel()]
    ras = (np.c_[ijk, np.ones(len(ijk))] @ matrix(fixed.GetIJKToRASMatrix).T)[:, :3]
    moved = np.array([grid.GetTransformFromParent().TransformPoint(list(p)) for p in ras])
    expected = ras - np.array(shift_lps) * [-1, -1, 1]
    assert np.abs(moved - expected).mean() < 1.0  # mm, in the brain; the shift is 5.4 mm
    target, after = sample(fixed, ras), sample(moving, ras)
    moving.SetAndObserveTransformNodeID(None)
    before = sample(moving, ras)
    assert np.nanmean(np.abs(after - target)) < 0.5 * np.nanmean(np.abs(before - target))


def test_a_deformable_result_of_single_slices_is_loaded_as_a_3d_grid():
    from GDImagingLib.jobs import runJobHere
    load("GDRegister")
    fixed = nodes.addVolumeNode(Volume.read(itk_example("BrainProtonDensitySliceBorder20.png")), "fixed", sliceZ=7.0)
    moving = nodes.addVolumeNode(Volume.read(itk_example("BrainProtonDensitySliceBSplined10.png")), "moving",
                                 sliceZ=7.0)
    logic = GDRegister.GDRegisterLogic()
    spec = logic.prepareJob(fixed, moving, transform="bspline", levels=2, iterations=100, device="cpu")
    node = runJobHere(spec, lambda result: logic.applyResult(result, fixed, moving))
    assert node.GetClassName() == "vtkMRMLGridTransformNode"
    j, i = np.mgrid[40:200:6, 40:200:6]
    ras = np.c_[-i.ravel(), -j.ravel(), np.full(i.size, 7.0)]
    moved = np.array([node.GetTransformFromParent().TransformPoint(list(p)) for p in ras])
    assert np.allclose(moved[:, 2], 7.0) and np.abs(moved[:, :2] - ras[:, :2]).max() > 1  # in-plane warp
    target, after = sample(fixed, ras), sample(moving, ras)
    moving.SetAndObserveTransformNodeID(None)
    before = sample(moving, ras)
    assert np.nanmean(np.abs(after - target)) < 0.7 * np.nanmean(np.abs(before - target))


def test_a_single_slice_keeps_its_voxel_type():
    """slicer.util.updateVolumeFromArray widens a 2D array to float64; the GD glue must not."""
    load("GDRegister")
    volume = Volume.read(itk_example("BrainProtonDensitySliceBorder20.png"))
    node = nodes.addVolumeNode(volume, "slice")
    assert slicer.util.arrayFromVolume(node).dtype == volume.array.dtype == np.uint8


def test_a_reused_grid_node_keeps_no_storage_of_the_removed_job_file():
    from GDImagingLib.jobs import runJobHere
    load("GDRegister")
    fixed = nodes.addVolumeNode(Volume.read(itk_example("BrainProtonDensitySliceBorder20.png")), "fixed")
    moving = nodes.addVolumeNode(Volume.read(itk_example("BrainProtonDensitySliceBSplined10.png")), "moving")
    grid = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLGridTransformNode", "mine")
    logic = GDRegister.GDRegisterLogic()
    spec = logic.prepareJob(fixed, moving, transform="bspline", levels=1, iterations=5, device="cpu")
    runJobHere(spec, lambda result: logic.applyResult(result, fixed, moving, outputTransform=grid))
    storages = [slicer.mrmlScene.GetNthNodeByClass(i, "vtkMRMLStorageNode")
                for i in range(slicer.mrmlScene.GetNumberOfNodesByClass("vtkMRMLStorageNode"))]
    assert not [s.GetFileName() for s in storages if s.GetFileName() and not Path(s.GetFileName()).exists()]
    assert grid.GetStorageNode() is None  # saving the scene would otherwise point at a deleted file


def shifted_pair(shift_lps=(4.0, -3.0, 2.0)):
    """A Colin27 brain at 3 mm and the same brain shifted: moving(x) = fixed(x + shift) (LPS mm)."""
    image = sitk.Cast(sitk.Shrink(sitk.ReadImage(str(mricron("ch2bet.nii.gz"))), [3, 3, 3]), sitk.sitkFloat32)
    shifted = sitk.Resample(image, image, sitk.TranslationTransform(3, shift_lps), sitk.sitkLinear, 0.0)
    return nodes.addVolumeNode(Volume.from_sitk(image), "fixed"), nodes.addVolumeNode(Volume.from_sitk(shifted),
                                                                                       "moving")


def linear_node(name: str, ras_matrix: np.ndarray):
    node = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLLinearTransformNode", name)
    node.SetMatrixTransformToParent(slicer.util.vtkMatrixFromArray(ras_matrix))
    return node


def brain_points(node) -> np.ndarray:
    k, j, i = np.mgrid[20:40:4, 25:47:4, 20:40:4]
    ijk = np.c_[i.ravel(), j.ravel(), k.ravel(), np.ones(i.size)]
    return (ijk @ matrix(node.GetIJKToRASMatrix).T)[:, :3]


def lps_matrix(transform: sitk.Euler3DTransform) -> np.ndarray:
    m = np.eye(4)
    m[:3, :3] = np.array(transform.GetMatrix()).reshape(3, 3)
    m[:3, 3] = np.array(transform.TransformPoint((0.0, 0.0, 0.0)))
    return m


def test_registration_composes_with_the_transform_the_moving_volume_already_had():
    """The moving brain is rotated by 20 degrees and shifted; the user has already put it under a transform that
    undoes the rotation. A translation-only registration of what the views show finds the shift, and the result
    carries the user's rotation: the moving volume lands on the fixed one, the user's node stays unchanged."""
    load("GDRegister")
    image = sitk.Cast(sitk.Shrink(sitk.ReadImage(str(mricron("ch2bet.nii.gz"))), [3, 3, 3]), sitk.sitkFloat32)
    centre = image.TransformContinuousIndexToPhysicalPoint([s / 2 for s in image.GetSize()])
    motion = sitk.Euler3DTransform(centre, 0.0, 0.0, np.deg2rad(20), (4.0, -3.0, 2.0))
    rotation = sitk.Euler3DTransform(centre, 0.0, 0.0, np.deg2rad(20))
    fixed = nodes.addVolumeNode(Volume.from_sitk(image), "fixed")
    moving = nodes.addVolumeNode(Volume.from_sitk(sitk.Resample(image, motion)), "moving")  # moving(x) = fixed(Tx)
    flip = np.diag([-1.0, -1.0, 1.0, 1.0])
    earlier = linear_node("user's rotation", flip @ lps_matrix(rotation) @ flip)
    moving.SetAndObserveTransformNodeID(earlier.GetID())
    node = GDRegister.GDRegisterLogic().register(fixed, moving, transform="translation", levels=2,
                                                 iterations=150, device="cpu")
    assert moving.GetTransformNodeID() == node.GetID() and node is not earlier
    assert np.allclose(matrix(earlier.GetMatrixTransformToParent), flip @ lps_matrix(rotation) @ flip)
    # moving frame -> world is the whole motion: the user's rotation and the shift the registration found
    assert np.allclose(matrix(node.GetMatrixTransformToParent), flip @ lps_matrix(motion) @ flip, atol=0.3)


def test_a_fixed_volume_under_a_transform_is_registered_where_the_views_show_it():
    load("GDRegister")
    fixed, moving = shifted_pair((0.0, 0.0, 0.0))
    offset = np.eye(4)
    offset[:3, 3] = (6.0, -5.0, 4.0)
    fixed.SetAndObserveTransformNodeID(linear_node("fixed placement", offset).GetID())
    node = GDRegister.GDRegisterLogic().register(fixed, moving, transform="translation", levels=2,
                                                 iterations=150, device="cpu")
    # moving sits at the identity; the fixed volume is shown 6, -5, 4 mm away: the result moves it there
    to_parent = matrix(node.GetMatrixTransformToParent)
    assert np.allclose(to_parent[:3, 3], (6.0, -5.0, 4.0), atol=0.3)


def test_deformable_results_and_non_linear_parents_are_refused_with_a_reason():
    from gdbackend.errors import InputError
    load("GDRegister")
    fixed, moving = shifted_pair()
    moving.SetAndObserveTransformNodeID(linear_node("user's", np.eye(4)).GetID())
    logic = GDRegister.GDRegisterLogic()
    with pytest.raises(InputError, match="Harden it first"):
        logic.prepareJob(fixed, moving, transform="rigid,affine,bspline")
    grid = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLGridTransformNode", "warp")
    displacement = vtk.vtkImageData()
    displacement.SetDimensions(2, 2, 2)
    displacement.AllocateScalars(vtk.VTK_DOUBLE, 3)
    warp = slicer.vtkOrientedGridTransform()
    warp.SetDisplacementGridData(displacement)
    grid.SetAndObserveTransformFromParent(warp)
    fixed.SetAndObserveTransformNodeID(grid.GetID())
    with pytest.raises(InputError, match="non-linear transform warp: harden it first"):
        logic.prepareJob(fixed, moving, transform="rigid")


def test_job_inputs_are_written_uncompressed():
    """Slicer writes a job's inputs on its main thread: gzip would freeze it for seconds on a big volume."""
    import json
    load("GDRegister")
    fixed, moving = shifted_pair()
    spec = Path(GDRegister.GDRegisterLogic().prepareJob(fixed, moving, transform="rigid", resample=True))
    written = json.loads(spec.read_text())
    assert {Path(p).suffix for p in written["inputs"].values()} == {".nii"}
    assert Path(written["outputs"]["image"]).suffix == ".nii"
    from GDImagingLib.jobs import removeJobFolder
    removeJobFolder(spec)
