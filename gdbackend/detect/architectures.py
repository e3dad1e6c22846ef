"""The detector architectures by name, without torch: `gd detect train --architecture` offers them, and the jobs
default to one, before torch, torchvision or MONAI load. Each pipeline builds and trains its own
(registry.pipeline_for); a test checks that these are the names the pipelines train, in their order."""

# torchvision's 2.5D detectors (slices25d: Faster R-CNN on three backbones, RetinaNet, FCOS), MONAI's 3D RetinaNet
# (retina3d), a U-Net's lesion regions (segmentation); a MONAI bundle is loaded, never trained
ALL_ARCHITECTURES = ("resnet18_fpn", "resnet50_fpn", "mobilenet_v3_fpn", "retinanet_resnet18_fpn",
                     "retinanet_resnet50_fpn", "fcos_resnet18_fpn", "fcos_resnet50_fpn", "retinanet3d", "unet3d")
DEFAULT_ARCHITECTURE = "unet3d"   # the jobs' (Slicer's) default: the best on few volumes and a CPU (docs/detection.md)
