"""2.5D detection: torchvision's two-stage and one-stage detectors on axial slices with their neighbours as
channels, slice boxes merged into 3D boxes; the pipeline is in .pipeline."""
