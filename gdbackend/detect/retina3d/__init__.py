"""3D detection with MONAI's RetinaNet on whole volumes; the pipeline is in .pipeline."""
