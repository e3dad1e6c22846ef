"""MONAI Model Zoo detection bundles (lung_nodule_ct_detection's layout) run as MONAI runs them: the bundle's
RetinaNetDetector with its settings, its preprocessing and its box postprocessing, built from its config through
the segmentation bundles' data-only reading (gdbackend.segment.bundle*); see load.py."""
