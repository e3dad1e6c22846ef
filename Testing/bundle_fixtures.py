"""Small MONAI bundles written for the tests (tiny networks, random weights) in the layout of the Model Zoo,
and MONAI's own way of running one: ConfigParser, the bundle's dataloader, inferer and postprocessing, as
MONAI's SupervisedEvaluator runs them (collate, no_grad inference, decollate, postprocessing per case)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from gdbackend.volume import Volume

TINY_UNET = {"_target_": "UNet", "spatial_dims": 3, "in_channels": 1, "out_channels": 3, "channels": [4, 8],
             "strides": [2], "num_res_units": 0}


def transforms(*steps: tuple[str, dict]) -> list[dict]:
    return [{"_target_": name, **args} for name, args in steps]


def standard_config(preprocessing: list | str, postprocessing: list, network: dict | None = None,
                    inferer: dict | None = None, **extra) -> dict:
    """An inference config shaped like the zoo's: datalist from dataset_dir, evaluator, expressions for the
    device and the network, SaveImaged at the end of the postprocessing."""
    return {
        "imports": ["$import glob", "$import os"],
        "bundle_root": ".", "output_dir": "$@bundle_root + '/eval'", "dataset_dir": "/nowhere",
        "datalist": "$list(sorted(glob.glob(@dataset_dir + '/*.nii.gz')))",
        "device": "$torch.device('cuda:0' if torch.cuda.is_available() else 'cpu')",
        "network_def": network or TINY_UNET, "network": "$@network_def.to(@device)",
        "preprocessing": {"_target_": "Compose", "transforms": preprocessing},
        "dataset": {"_target_": "Dataset", "data": "$[{'image': i} for i in @datalist]",
                    "transform": "@preprocessing"},
        "dataloader": {"_target_": "DataLoader", "dataset": "@dataset", "batch_size": 1, "num_workers": 0},
        "inferer": inferer or {"_target_": "SlidingWindowInferer", "roi_size": [16, 16, 16], "sw_batch_size": 2,
                               "overlap": 0.5},
        "postprocessing": {"_target_": "Compose", "transforms": [
            *postprocessing, {"_target_": "SaveImaged", "keys": "pred", "output_dir": "@output_dir",
                              "output_postfix": "seg", "separate_folder": False, "print_log": False}]},
        "evaluator": {"_target_": "SupervisedEvaluator", "device": "@device", "val_data_loader": "@dataloader",
                      "network": "@network", "inferer": "@inferer", "postprocessing": "@postprocessing"},
        "run": ["$@evaluator.run()"],
        **extra}


def write_bundle(root: Path, name: str, config: dict, network: torch.nn.Module, outputs: dict | None = None,
                 inputs: dict | None = None, yaml: bool = False, meta: dict | None = None) -> Path:
    """configs/inference.json (or .yaml), configs/metadata.json and models/model.pt of `network`'s weights."""
    folder = root / name
    (folder / "configs").mkdir(parents=True)
    (folder / "models").mkdir()
    if yaml:
        import yaml as pyyaml
        (folder / "configs" / "inference.yaml").write_text(pyyaml.safe_dump(config, sort_keys=False))
    else:
        (folder / "configs" / "inference.json").write_text(json.dumps(config, indent=1))
    (folder / "configs" / "metadata.json").write_text(json.dumps({"version": "0.0.1", **(meta or {}),
        "network_data_format": {"inputs": {"image": inputs or {"num_channels": 1}},
                                "outputs": {"pred": outputs or {"num_channels": 3}}}}))
    torch.save(network.state_dict(), folder / "models" / "model.pt")
    return folder


def random_network(config: dict) -> torch.nn.Module:
    """The bundle's network with seeded random weights, built by MONAI from the config's network_def."""
    from monai.bundle import ConfigParser
    torch.manual_seed(0)
    net = ConfigParser({"net": config}).get_parsed_content("net")
    with torch.no_grad():  # instance norms and biases at their defaults make flat outputs: stir everything
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return net.eval()


def monai_run(folder: Path, data: list[dict], output_dir: Path, image_key: str = "image") -> list[dict]:
    """Each case's dict after the bundle's postprocessing, run as MONAI runs the bundle's config."""
    from monai.bundle import ConfigParser
    from monai.data import DataLoader, Dataset, decollate_batch
    parser = ConfigParser()
    config = next(p for p in (folder / "configs").iterdir() if p.stem == "inference")
    parser.read_config(config)
    parser.read_meta(folder / "configs" / "metadata.json")
    parser["bundle_root"], parser["output_dir"] = str(folder), str(output_dir)
    network = parser.get_parsed_content("network_def")
    network.load_state_dict(torch.load(folder / "models" / "model.pt", weights_only=True))
    network.eval()
    loader = DataLoader(Dataset(data, parser.get_parsed_content("preprocessing")), batch_size=1)
    inferer, post = parser.get_parsed_content("inferer"), parser.get_parsed_content("postprocessing")
    results = []
    for batch in loader:
        with torch.no_grad():
            batch["pred"] = inferer(batch[image_key], network)
        results += [post(item) for item in decollate_batch(batch, detach=True)]
    return results


def kji(pred) -> np.ndarray:
    """MONAI's (C, x, y, z) output as GDImaging's (C, z, y, x)."""
    array = np.asarray(pred.detach().cpu().numpy() if hasattr(pred, "detach") else pred)
    return array.transpose(0, *range(array.ndim - 1, 0, -1))


def oblique_ct(path: Path, seed: int = 0, shape=(21, 27, 30), spacing=(0.8, 1.1, 1.7)) -> Path:
    """A CT-like volume (blobs in air-and-water noise) on a rotated grid with float32-unfriendly spacings."""
    rng = np.random.default_rng(seed)
    a = rng.normal(-500, 200, size=shape).astype(np.float32)
    z, y, x = np.ogrid[: shape[0], : shape[1], : shape[2]]
    a[(z - 10) ** 2 + (y - 13) ** 2 + (x - 14) ** 2 < 60] += 600
    a[(z - 5) ** 2 + (y - 6) ** 2 + (x - 22) ** 2 < 20] += 300
    c, s = np.cos(0.3), np.sin(0.3)
    direction = np.array([[c, -s, 0], [s, c, 0], [0, 0, -1.0]])
    Volume(a, spacing, (12.5, -30.25, 7.0), direction).write(path)
    return path


# ---------------------------------------------------------------- detection bundles
LUNG_NODULE = Path(__file__).parent / "zoo" / "lung_nodule_ct_detection"  # its configs/ as the zoo publishes them
# a small ResNet through the zoo's backbone expression: 4 stages of 8..64 channels, one block each
TINY_BACKBONE = ("$monai.networks.nets.resnet.ResNet(block='basic', layers=[1, 1, 1, 1], "
                 "block_inplanes=[8, 16, 32, 64], spatial_dims=3, n_input_channels=1, conv1_t_stride=[2, 2, 1], "
                 "conv1_t_size=[7, 7, 7])")


def detection_config(resampled: bool = True, roi: list[int] | None = None, **selector) -> dict:
    """An inference config in the layout of the zoo's lung_nodule_ct_detection (written here): a RetinaNet on a
    ResNet backbone built by expressions, a RetinaNetDetector set up by detector_ops that the evaluator requires,
    LoadImaged, Orientationd, Spacingd disabled for resampled data by an expression, ScaleIntensityRanged, and the
    box postprocessing to LPS world coordinates in cccwhd mode; the inferer and evaluator are the zoo's scripts/."""
    box_selection = {"score_thresh": 0.02, "topk_candidates_per_level": 1000, "nms_thresh": 0.22,
                     "detections_per_img": 300, **selector}
    ops = ", ".join(f"{k}={v!r}" for k, v in box_selection.items())
    return {
        "imports": ["$import glob", "$import os"], "raw": not resampled, "resampled": "$(not @raw)",
        "bundle_root": ".", "dataset_dir": "/nowhere",
        "datalist": "$list(sorted(glob.glob(@dataset_dir + '/*.nii.gz')))",
        "device": "$torch.device('cuda:0' if torch.cuda.is_available() else 'cpu')",
        "amp": True, "spatial_dims": 3, "num_classes": 2, "force_sliding_window": False,
        "size_divisible": [16, 16, 8], "infer_patch_size": roi or [32, 32, 16],
        "anchor_generator": {"_target_": "monai.apps.detection.utils.anchor_utils.AnchorGeneratorWithAnchorShape",
                             "feature_map_scales": [1, 2, 4],
                             "base_anchor_shapes": [[6, 8, 4], [8, 6, 5], [10, 10, 6]]},
        "backbone": TINY_BACKBONE,
        # as the zoo's resnet_fpn_feature_extractor(@backbone, 3, False, [1, 2], None) builds it, with 16 feature
        # channels instead of its fixed 256: heads 256 times lighter (the published config's test runs that one)
        "feature_extractor": "$monai.networks.blocks.backbone_fpn_utils.BackboneWithFPN(@backbone, "
                             "{'layer1': '1', 'layer2': '2'}, [8, 16], 16, 3)",
        "network_def": {"_target_": "RetinaNet", "spatial_dims": "@spatial_dims", "num_classes": "@num_classes",
                        "num_anchors": 3, "feature_extractor": "@feature_extractor",
                        "size_divisible": "@size_divisible", "use_list_output": False},
        "network": "$@network_def.to(@device)",
        "detector": {"_target_": "RetinaNetDetector", "network": "@network", "anchor_generator": "@anchor_generator",
                     "spatial_dims": "@spatial_dims", "num_classes": "@num_classes",
                     "size_divisible": "@size_divisible"},
        "detector_ops": [
            "$@detector.set_target_keys(box_key='box', label_key='label')",
            f"$@detector.set_box_selector_parameters({ops})",
            "$@detector.set_sliding_window_inferer(roi_size=@infer_patch_size, overlap=0.25, sw_batch_size=2, "
            "mode='constant', device='cpu')"],
        "preprocessing": {"_target_": "Compose", "transforms": transforms(
            ("LoadImaged", {"keys": "image", "meta_key_postfix": "meta_dict"}),
            ("EnsureChannelFirstd", {"keys": "image"}),
            ("Orientationd", {"keys": "image", "axcodes": "RAS"}),
            ("Spacingd", {"keys": "image", "pixdim": [0.9, 0.9, 1.5], "_disabled_": "@resampled"}),
            ("ScaleIntensityRanged", {"keys": "image", "a_min": -1024.0, "a_max": 300.0, "b_min": 0.0, "b_max": 1.0,
                                      "clip": True}),
            ("EnsureTyped", {"keys": "image"}))},
        "dataset": {"_target_": "Dataset", "data": "$[{'image': i} for i in @datalist]", "transform": "@preprocessing"},
        "dataloader": {"_target_": "DataLoader", "dataset": "@dataset", "batch_size": 1, "num_workers": 0,
                       "collate_fn": "$monai.data.utils.no_collation"},
        "inferer": {"_target_": "scripts.detection_inferer.RetinaNetInferer", "detector": "@detector",
                    "force_sliding_window": "@force_sliding_window"},
        "postprocessing": {"_target_": "Compose", "transforms": transforms(
            ("ClipBoxToImaged", {"box_keys": "box", "label_keys": "label", "box_ref_image_keys": "image",
                                 "remove_empty": True}),
            ("AffineBoxToWorldCoordinated", {"box_keys": "box", "box_ref_image_keys": "image",
                                             "image_meta_key_postfix": "meta_dict", "affine_lps_to_ras": True}),
            ("ConvertBoxModed", {"box_keys": "box", "src_mode": "xyzxyz", "dst_mode": "cccwhd"}),
            ("DeleteItemsd", {"keys": ["image"]}))},
        "evaluator": {"_target_": "scripts.evaluator.DetectionEvaluator", "_requires_": "@detector_ops",
                      "device": "@device", "val_data_loader": "@dataloader", "network": "@network",
                      "inferer": "@inferer", "amp": "@amp"},
        "run": ["$@evaluator.run()"]}


def random_detector(config: dict, stir: float = 0.03) -> torch.nn.Module:
    """The config's network_def (its backbone and feature extractor expressions included) with seeded random
    weights, built by MONAI's ConfigParser."""
    from monai.bundle import ConfigParser
    torch.manual_seed(0)
    net = ConfigParser(config).get_parsed_content("network_def")
    with torch.no_grad():  # stir the heads' prior (every score near 0.01) so that scores spread
        for p in net.parameters():
            p.add_(torch.randn_like(p) * stir)
    return net.eval()


def monai_detect(folder: Path, data: list[dict], config: dict | None = None) -> list[dict]:
    """Each case's dict (box, label, label_scores) after the bundle's postprocessing, run as the zoo's
    DetectionEvaluator runs the bundle: MONAI's ConfigParser builds the detector and runs the detector_ops the
    evaluator requires, the dataset yields uncollated one-image batches, the window slides only when forced or
    when an image holds at least a window's voxels (the zoo's RetinaNetInferer), and the postprocessing gets
    each prediction with its preprocessed image. `config` replaces the bundle's inference.json."""
    import monai.apps.detection.networks.retinanet_detector  # noqa: F401 (MONAI finds the classes by name)
    import monai.apps.detection.transforms.dictionary  # noqa: F401
    from monai.bundle import ConfigParser
    from monai.data import DataLoader, Dataset
    from monai.data.utils import no_collation
    parser = ConfigParser()
    parser.read_config(config if config is not None else folder / "configs" / "inference.json")
    parser.read_meta(folder / "configs" / "metadata.json")
    parser["bundle_root"] = str(folder)
    network = parser.get_parsed_content("network_def")
    network.load_state_dict(torch.load(folder / "models" / "model.pt", weights_only=True))
    network.eval()
    detector = parser.get_parsed_content("detector")
    parser.get_parsed_content("detector_ops")
    detector.eval()
    window = int(np.prod(detector.inferer.roi_size))
    force = parser.get_parsed_content("force_sliding_window") if "force_sliding_window" in parser.config else False
    post = parser.get_parsed_content("postprocessing")
    loader = DataLoader(Dataset(data, parser.get_parsed_content("preprocessing")), batch_size=1,
                        collate_fn=no_collation)
    results = []
    for batch in loader:
        images = [case["image"] for case in batch]
        with torch.no_grad():
            found = detector(images, use_inferer=force or any(im[0].numel() >= window for im in images))
        results += [post({**f, "image": im}) for f, im in zip(found, images)]
    return results


def ct_with_nodules(path: Path, shape=(24, 44, 48), spacing=(0.8, 0.75, 1.6), seed: int = 0) -> Path:
    """A CT-like volume (lung-dark noise, brighter spheres) on a rotated, flipped grid."""
    rng = np.random.default_rng(seed)
    a = rng.normal(-700, 150, size=shape).astype(np.float32)
    z, y, x = np.ogrid[: shape[0], : shape[1], : shape[2]]
    for cz, cy, cx, r in ((12, 20, 15, 4), (8, 30, 34, 3), (16, 10, 36, 5)):
        a[(z - cz) ** 2 + (y - cy) ** 2 + (x - cx) ** 2 < r * r] = 40.0
    c, s = np.cos(0.4), np.sin(0.4)
    direction = np.array([[c, 0, -s], [0, -1.0, 0], [s, 0, c]])
    Volume(a, spacing, (-31.5, 12.25, -80.0), direction).write(path)
    return path
