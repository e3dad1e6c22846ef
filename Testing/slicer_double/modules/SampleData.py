"""`SampleData` for the modules' in-Slicer self-tests, offline: the samples they download are stood in for by
real images of the project's sample data, loaded through Slicer's volumes logic as a downloaded file is.

MRHead -> Colin27 T1 with skull (mricron ch2); MRBrainTumor1 -> Colin27 brain (ch2bet);
MRBrainTumor2 -> the same brain under a known rigid motion (6 deg, 5/-4/3 mm), as two time points.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk

_STAND_INS = {"MRHead": "ch2.nii.gz", "MRBrainTumor1": "ch2bet.nii.gz", "MRBrainTumor2": "ch2bet.nii.gz"}
_MOTION = sitk.Euler3DTransform((0, 0, 0), 0.0, 0.0, np.deg2rad(6), (5.0, -4.0, 3.0))


def downloadSample(sampleName):
    """The sample's volume node (Slicer's SampleData.downloadSample returns the first loaded node)."""
    import slicer

    from gdbackend.sample_data import mricron
    image = sitk.Shrink(sitk.ReadImage(str(mricron(_STAND_INS[sampleName]))), [2, 2, 2])  # CI-sized
    if sampleName == "MRBrainTumor2":
        _MOTION.SetCenter(image.TransformContinuousIndexToPhysicalPoint([s / 2 for s in image.GetSize()]))
        image = sitk.Resample(image, _MOTION)
    path = Path(slicer.app.temporaryPath) / f"{sampleName}.nrrd"
    sitk.WriteImage(image, str(path))
    node = slicer.modules.volumes.logic().AddArchetypeVolume(str(path), sampleName)
    node.CreateDefaultDisplayNodes()
    return node
