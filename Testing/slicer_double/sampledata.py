"""`SampleData` of the double: offline stand-ins (real images of the project's sample data) for the
samples the modules' in-Slicer self-tests download, so that those tests also run in CI.

MRHead -> Colin27 T1 with skull (mricron ch2); MRBrainTumor1 -> Colin27 brain (ch2bet);
MRBrainTumor2 -> the same brain under a known rigid motion (6 deg, 5/-4/3 mm), as two time points.
"""
from __future__ import annotations

import types

import numpy as np
import SimpleITK as _sitk

STAND_INS = {"MRHead": "ch2.nii.gz", "MRBrainTumor1": "ch2bet.nii.gz", "MRBrainTumor2": "ch2bet.nii.gz"}
MOTION = _sitk.Euler3DTransform((0, 0, 0), 0.0, 0.0, np.deg2rad(6), (5.0, -4.0, 3.0))


def downloadSample(sampleName):
    import sys

    from gdbackend.sample_data import mricron
    from gdbackend.volume import Volume
    image = _sitk.Shrink(_sitk.ReadImage(str(mricron(STAND_INS[sampleName]))), [2, 2, 2])  # CI-sized
    if sampleName == "MRBrainTumor2":
        MOTION.SetCenter(image.TransformContinuousIndexToPhysicalPoint([s / 2 for s in image.GetSize()]))
        image = _sitk.Resample(image, MOTION)
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[2] / "GDSegment"))
    from GDImagingLib.nodes import addVolumeNode
    return addVolumeNode(Volume.from_sitk(image), sampleName)


def module() -> types.ModuleType:
    sample_data = types.ModuleType("SampleData")
    sample_data.downloadSample = downloadSample
    return sample_data
