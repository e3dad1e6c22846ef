"""Detection by segmentation: a 3D U-Net's lesion regions as boxes; the pipeline is in .pipeline."""
