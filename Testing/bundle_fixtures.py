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
