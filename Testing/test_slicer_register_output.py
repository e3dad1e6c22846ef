"""GD Register's output type on real Slicer Core: a linear, B-spline or grid transform node per choice, each moving
points as SimpleITK moves them through the same transform file (the backend's result), and a linear output after
a bspline stage refused with the reason, in the panel and in the Logic."""
from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
import vtk

from gdbackend.errors import InputError
from gdbackend.sample_data import itk_example, mricron
from gdbackend.volume import Volume
from slicer_double import load

GDRegister = load("GDRegister")
import slicer  # noqa: E402  (the double, installed by load)

from GDImagingLib import nodes  # noqa: E402
from GDImagingLib.jobs import runJobHere  # noqa: E402

FLIP = np.array([-1.0, -1.0, 1.0])   # LPS <-> RAS
RUN = {"levels": 2, "iterations": 30, "device": "cpu"}


@pytest.fixture(scope="module")
def brains():
    """Colin27 at 6 mm and the same brain warped by a smooth bump and shifted (LPS mm), as two volume nodes."""
    image = sitk.Cast(sitk.Shrink(sitk.ReadImage(str(mricron("ch2bet.nii.gz"))), [6, 6, 6]), sitk.sitkFloat32)
    bump = sitk.BSplineTransformInitializer(image, [3, 3, 3])
    params = np.zeros(len(bump.GetParameters()))
    params[len(params) // 2] = 8.0   # one control point in the middle moves 8 mm (x)
    bump.SetParameters(params.tolist())
    moved = sitk.CompositeTransform([sitk.TranslationTransform(3, (3.0, -2.0, 1.0)), bump])
    warped = sitk.Resample(image, image, moved, sitk.sitkLinear, 0.0)
    return Volume.from_sitk(image), Volume.from_sitk(warped)


def register(fixed, moving, **options):
    """(the result node, the SimpleITK transform read from the job's own transform file)."""
    logic = GDRegister.GDRegisterLogic()
    spec = logic.prepareJob(fixed, moving, **RUN, **options)
    files = {}

    def apply(result):
        files["transform"] = sitk.ReadTransform(result["outputs"]["transform"])
        return logic.applyResult(result, fixed, moving, showResult=False)
    return runJobHere(spec, apply), files["transform"]


def ras_grid(node, step: int = 2) -> np.ndarray:
    """RAS centres of every `step`-th voxel of a volume node, and of its last ones on each axis."""
    shape = slicer.util.arrayFromVolume(node).shape
    k, j, i = np.meshgrid(*[np.unique(np.r_[0:n:step, n - 1]) for n in shape], indexing="ij")
    m = vtk.vtkMatrix4x4()
    node.GetIJKToRASMatrix(m)
    ijk = np.c_[i.ravel(), j.ravel(), k.ravel(), np.ones(i.size)]
    return (ijk @ slicer.util.arrayFromVTKMatrix(m).T)[:, :3]


def moved_by_node(node, ras: np.ndarray) -> np.ndarray:
    transform = node.GetTransformFromParent()
    return np.array([transform.TransformPoint(list(p)) for p in ras])


def moved_by_sitk(transform: sitk.Transform, ras: np.ndarray) -> np.ndarray:
    """The same points through ITK's transform (LPS), back in RAS."""
    return np.array([transform.TransformPoint(tuple(p * FLIP)) for p in ras]) * FLIP


@pytest.mark.parametrize("stages,output,node_class,itk_class", [
    ("rigid", "auto", "vtkMRMLLinearTransformNode", "AffineTransform"),
    ("rigid", "displacement", "vtkMRMLGridTransformNode", "DisplacementFieldTransform"),
    ("rigid,bspline", "bspline", "vtkMRMLBSplineTransformNode", "BSplineTransform"),
    ("rigid,bspline", "auto", "vtkMRMLGridTransformNode", "DisplacementFieldTransform"),
])
def test_each_output_type_gives_its_node_class_and_moves_points_as_itk_does(brains, stages, output, node_class,
                                                                          itk_class):
    fixed, moving = (nodes.addVolumeNode(v, name) for v, name in zip(brains, ("fixed", "moving")))
    node, transform = register(fixed, moving, transform=stages, outputType=output)
    assert node.GetClassName() == node_class and transform.GetName() == itk_class
    ras = ras_grid(fixed)
    by_slicer, by_itk = moved_by_node(node, ras), moved_by_sitk(transform, ras)
    assert np.abs(by_slicer - by_itk).max() < 1e-3, np.abs(by_slicer - by_itk).max()   # mm
    assert np.abs(by_slicer - ras).max() > 1.0                                          # it does move them


def test_the_bspline_node_is_the_displacement_field_at_every_fixed_voxel(brains):
    """The same registration (same seed) as a B-spline node and as a grid node: the control-point grid with the
    rigid stage folded in is the backend's field, exactly, at the voxels where the field is sampled."""
    fixed, moving = (nodes.addVolumeNode(v, name) for v, name in zip(brains, ("fixed", "moving")))
    bspline, _ = register(fixed, moving, transform="rigid,bspline", outputType="bspline")
    field, _ = register(fixed, moving, transform="rigid,bspline", outputType="displacement")
    ras = ras_grid(fixed, step=1)
    difference = np.abs(moved_by_node(bspline, ras) - moved_by_node(field, ras)).max()
    assert difference < 1e-3, difference
    assert np.abs(moved_by_node(field, ras) - ras).max() > 2.0


def test_a_bspline_result_of_single_slices_is_a_3d_bspline_node_at_the_slice():
    fixed = nodes.addVolumeNode(Volume.read(itk_example("BrainProtonDensitySliceBorder20.png")), "fixed", sliceZ=7.0)
    moving = nodes.addVolumeNode(Volume.read(itk_example("BrainProtonDensitySliceBSplined10.png")), "moving",
                                 sliceZ=7.0)
    node, transform = register(fixed, moving, transform="bspline", outputType="bspline")
    assert node.GetClassName() == "vtkMRMLBSplineTransformNode" and transform.GetDimension() == 3
    ras = ras_grid(fixed, step=3)                           # the whole slice, its last row and column too
    assert np.allclose(ras[:, 2], 7.0) and len(ras) > 6000
    moved = moved_by_node(node, ras)
    by_file = np.array([transform.TransformPoint(tuple(p * FLIP)) for p in ras]) * FLIP
    assert np.allclose(moved[:, 2], 7.0, atol=1e-6)          # the slice's points stay in its plane
    assert np.abs(moved - by_file).max() < 1e-3 and np.abs(moved[:, :2] - ras[:, :2]).max() > 1.0


def test_a_linear_output_after_a_bspline_stage_is_refused_with_the_reason(slicer_panel):
    widget = slicer_panel("GDRegister")
    p = widget._parameterNode
    p.fixedVolume = nodes.addVolumeNode(Volume.read(itk_example("BrainProtonDensitySliceBorder20.png")), "fixed")
    p.movingVolume = nodes.addVolumeNode(Volume.read(itk_example("BrainProtonDensitySliceR10X13Y17.png")), "moving")
    p.transform, p.outputType = "rigid,affine,bspline", "linear"
    reason = widget.ui.reasonLabel.text
    assert "linear result needs linear stages only" in reason and "bspline" in reason
    assert not widget.ui.applyButton.enabled and widget.ui.applyButton.toolTip == reason
    with pytest.raises(InputError, match="linear result needs linear stages only"):
        GDRegister.GDRegisterLogic().prepareJob(p.fixedVolume, p.movingVolume, transform=p.transform,
                                                outputType="linear")
    p.outputType = "bspline"
    assert widget.ui.applyButton.enabled and not widget.ui.reasonLabel.text
    p.transform = "rigid,affine"
    assert "end with a bspline stage" in widget.ui.reasonLabel.text and not widget.ui.applyButton.enabled
