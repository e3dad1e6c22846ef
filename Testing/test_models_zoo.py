"""MONAI Model Zoo bundles through the model registry, against a real HTTP server on loopback serving a tiny
bundle zipped as the zoo zips them (NAME/configs/..., NAME/models/model.pt): the zip's SHA-1 is checked, it is
unpacked into the cache as a bundle folder and used offline afterwards (a second fetch makes no request);
a wrong checksum, zip-slip, absolute-path, symlink and zip-bomb archives are refused with nothing left in
the cache; a cancel leaves only the hidden, resumable bytes; `gd segment predict --model NAME` runs the
fetched bundle; and the shipped Resources/models.json lists the zoo's bundles with their published SHA-1."""
from __future__ import annotations

import hashlib
import json
import re
import stat
import zipfile
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
import torch
from bundle_fixtures import TINY_UNET, oblique_ct, random_network, standard_config, transforms, write_bundle
from test_models_download import cache as cache  # noqa: F401 (the cache fixture)
from test_models_download import serving

from gdbackend.cli import main
from gdbackend.errors import Cancelled, InputError, ModelError
from gdbackend.models import fetch, read_registry, resolve_model
from gdbackend.train import save_checkpoint
from gdbackend.volume import Volume

NAME = "tiny_ct_segmentation"
ZOO_HOSTS = {"api.ngc.nvidia.com", "github.com"}  # where model-zoo's model_info.json points (NGC now, releases before)
REQUIRED = ("spleen_ct_segmentation", "wholeBody_ct_segmentation", "multi_organ_segmentation",
            "pancreas_ct_dints_segmentation", "pediatric_abdominal_ct_segmentation", "swin_unetr_btcv_segmentation",
            "prostate_mri_anatomy", "brats_mri_segmentation", "renalStructures_CECT_segmentation",
            "wholeBrainSeg_Large_UNEST_segmentation", "lung_nodule_ct_detection")
PREPROCESSING = transforms(
    ("LoadImaged", {"keys": "image"}), ("EnsureChannelFirstd", {"keys": "image"}),
    ("Orientationd", {"keys": "image", "axcodes": "RAS"}),
    ("Spacingd", {"keys": "image", "pixdim": [1.5, 1.5, 2.0], "mode": "bilinear"}),
    ("ScaleIntensityRanged", {"keys": "image", "a_min": -200, "a_max": 300, "b_min": 0.0, "b_max": 1.0,
                              "clip": True}))
POSTPROCESSING = transforms(
    ("Activationsd", {"keys": "pred", "softmax": True}),
    ("Invertd", {"keys": "pred", "transform": "@preprocessing", "orig_keys": "image", "nearest_interp": False,
                 "to_tensor": True}),
    ("AsDiscreted", {"keys": "pred", "argmax": True}))


def zip_bundle(folder: Path, archive: Path, extra: list[tuple[zipfile.ZipInfo | str, bytes]] = ()) -> Path:
    """Zip a bundle folder as the zoo does (members NAME/...), plus `extra` (name or ZipInfo, bytes) members."""
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                z.write(path, path.relative_to(folder.parent).as_posix())
        for info, data in extra:
            z.writestr(info, data)
    return archive


@pytest.fixture(scope="module")
def bundle(module_tmp) -> Path:
    """A tiny CT bundle (random weights) with 300 kB of incompressible extra data, so that a download spans
    several chunks."""
    folder = write_bundle(module_tmp, NAME, standard_config(PREPROCESSING, POSTPROCESSING),
                          random_network(TINY_UNET),
                          {"num_channels": 3, "channel_def": {"0": "background", "1": "liver", "2": "cyst"}})
    (folder / "models" / "extra.bin").write_bytes(np.random.default_rng(0).bytes(300_000))
    return folder


@pytest.fixture
def server(tmp_path, bundle):
    """Serves server.body (the bundle's zip unless a test changes it) with Range support."""
    with serving(zip_bundle(bundle, tmp_path / "served.zip").read_bytes(), f"{NAME}_v0.1.0.zip") as httpd:
        yield httpd


def registry(tmp_path: Path, server, **changes) -> Path:
    """A registry with the served bundle as the zoo's entries are written (sha1, size unknown)."""
    entry = {"name": NAME, "kind": "bundle", "version": "0.1.0", "task": "segment", "description": "served on loopback",
             "modality": "CT", "channels": ["CT"], "spacing": [1.5, 1.5, 2.0], "labels": ["liver", "cyst"],
             "licence": "Apache-2.0", "size": "unknown", "url": server.url,
             "sha1": hashlib.sha1(server.body).hexdigest(), **changes}
    path = tmp_path / "models.json"
    path.write_text(json.dumps({"format": 1, "models": [entry]}))
    return path


def cache_names(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.iterdir()) if cache.exists() else []


def test_a_bundle_is_checked_unpacked_and_then_used_offline(tmp_path, server, bundle, cache, monkeypatch, capsys):
    reg = registry(tmp_path, server)
    seen, unpacked = [], []
    path = fetch(NAME, reg, progress=lambda done, total: seen.append((done, total)),
                 unpack_progress=lambda done, total: unpacked.append((done, total)))
    assert path == cache / NAME and (path / "configs" / "inference.json").is_file()
    assert (path / "models" / "model.pt").read_bytes() == (bundle / "models" / "model.pt").read_bytes()
    assert seen[-1] == (len(server.body), len(server.body)) and len(seen) > 3
    assert unpacked[-1][0] == unpacked[-1][1] > 300_000
    assert cache_names(cache) == [NAME], "no archive, part file or staging folder is left"
    server.shutdown()
    server.server_close()  # offline from here on
    assert fetch(NAME, reg) == path and len(server.ranges) == 1, "a fetched bundle is not requested again"
    monkeypatch.setenv("GDIMAGING_MODELS", str(reg))
    assert main(["models", "fetch", NAME]) == 0 and capsys.readouterr().out.strip() == str(path)
    assert resolve_model(NAME, "segment") == path
    assert main(["models", "list"]) == 0
    listed = capsys.readouterr().out
    assert re.search(rf"{NAME}\s+bundle\s+segment\s+CT\s+CT\s+1.5x1.5x2 mm\s+unknown\s+cached\s+Apache-2.0", listed)
    assert f"  {NAME}" in listed.splitlines()[-1]  # and in the cache's listing


def test_a_wrong_sha1_is_refused_and_nothing_is_cached(tmp_path, server, cache):
    with pytest.raises(ModelError, match=f"sha1 {hashlib.sha1(server.body).hexdigest()}, not the expected 0+: it was"):
        fetch(NAME, registry(tmp_path, server, sha1="0" * 40))
    assert cache_names(cache) == []


def symlink(name: str, target: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


@pytest.mark.parametrize("extra, message", [
    ([(f"{NAME}/../../evil.txt", b"x")], "leading out of its folder"),
    ([("/evil.txt", b"x")], "an absolute path"),
    ([(symlink(f"{NAME}/configs/evil", "/etc/passwd"), b"/etc/passwd")], "a symbolic link"),
    ([(f"{NAME}/models/zeros.bin", bytes(60_000_000))], "zip bomb"),
], ids=["zip-slip", "absolute", "symlink", "bomb"])
def test_unsafe_archives_are_refused_and_nothing_is_unpacked(tmp_path, server, bundle, cache, extra, message):
    server.body = zip_bundle(bundle, tmp_path / "bad.zip", extra).read_bytes()
    with pytest.raises(ModelError, match=message):
        fetch(NAME, registry(tmp_path, server))
    assert cache_names(cache) == [] and not list(tmp_path.rglob("evil*"))


def test_an_archive_without_a_bundle_is_refused(tmp_path, server, cache):
    archive = tmp_path / "notes.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("notes/readme.txt", "no configs here")
    server.body = archive.read_bytes()
    with pytest.raises(ModelError, match="no configs/ folder"):
        fetch(NAME, registry(tmp_path, server))
    assert cache_names(cache) == []


def test_a_cancel_leaves_only_the_hidden_bytes_and_the_next_fetch_resumes(tmp_path, server, cache):
    reg = registry(tmp_path, server)

    def cancel_after_two_chunks(done: int, total: int | None) -> None:
        if done >= 2 << 16:
            raise Cancelled("stop")

    with pytest.raises(Cancelled):
        fetch(NAME, reg, progress=cancel_after_two_chunks)
    assert cache_names(cache) == [f".{NAME}.zip.part"]
    kept = (cache / f".{NAME}.zip.part").stat().st_size

    def cancel_unpacking(done: int, total: int) -> None:
        raise Cancelled("stop")

    with pytest.raises(Cancelled):
        fetch(NAME, reg, unpack_progress=cancel_unpacking)
    assert server.ranges[-1] == f"bytes={kept}-", "the download resumed from the kept bytes"
    assert cache_names(cache) == [f".{NAME}.zip"], "the checked zip is kept hidden, nothing is unpacked"
    requests = len(server.ranges)
    assert fetch(NAME, reg) == cache / NAME and len(server.ranges) == requests
    assert cache_names(cache) == [NAME]


def test_a_fetched_bundle_segments_by_name(tmp_path, server, cache, monkeypatch, capsys):
    monkeypatch.setenv("GDIMAGING_MODELS", str(registry(tmp_path, server)))
    image = oblique_ct(tmp_path / "ct.nii.gz")
    predict = ["segment", "predict", "--model", NAME, str(image), "--out", str(tmp_path / "masks"), "--device", "cpu"]
    assert main(predict) == 2
    assert f"not downloaded yet: run gd models fetch {NAME} (size unknown)" in capsys.readouterr().err
    assert main(["models", "fetch", NAME]) == 0
    assert main(predict) == 0, capsys.readouterr().err
    labels = Volume.read(tmp_path / "masks" / "ct.nii.gz")
    assert labels.array.shape == Volume.read(image).array.shape and set(np.unique(labels.array)) <= {0, 1, 2}
    assert len(np.unique(labels.array)) > 1, "the random network's map is not empty"
    assert main(["detect", "predict", "--model", NAME, str(image), "--out", str(tmp_path / "boxes.json")]) == 2
    assert f"{NAME} is a segment model, not a detect model" in capsys.readouterr().err
    monkeypatch.setenv("GDIMAGING_MODELS", str(registry(tmp_path, server, task="classify")))
    with pytest.raises(ModelError, match="MONAI bundle for classify; GDImaging runs bundles for segment, detect only"):
        resolve_model(NAME, "classify")


def test_the_shipped_registry_lists_the_zoo_bundles_with_their_published_sha1(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("GDIMAGING_MODELS", raising=False)
    monkeypatch.setenv("GDIMAGING_CACHE", str(tmp_path / "cache"))
    entries = {e.name: e for e in read_registry()}
    assert set(REQUIRED) <= set(entries)
    for entry in entries.values():
        if entry.kind == "bundle":
            assert re.fullmatch(r"[0-9a-f]{40}", entry.sha1) and entry.sha256 is None, entry.name
            assert urlparse(entry.url).scheme == "https" and urlparse(entry.url).hostname in ZOO_HOSTS, entry.name
            assert entry.url.endswith(f"/{entry.name}_v{entry.version}.zip") and entry.labels and entry.licence
        else:  # GDImaging's own files: sha256
            assert re.fullmatch(r"[0-9a-f]{64}", entry.sha256) and entry.sha1 is None, entry.name
    assert entries["brats_mri_segmentation"].channels == ("T1c", "T1", "T2", "FLAIR")
    assert len(entries["renalStructures_CECT_segmentation"].channels) == 3
    assert entries["spleen_ct_segmentation"].spacing == (1.5, 1.5, 2.0)
    assert len(entries["wholeBody_ct_segmentation"].labels) == 104
    assert main(["models", "list"]) == 0
    listed = capsys.readouterr().out
    for name in REQUIRED:
        assert re.search(rf"^{name}\s+bundle\s+(segment|detect)\s.*\s(unknown\s+not fetched)\s", listed, re.M), name
    assert "T1c,T1,T2,FLAIR" in listed and "Private use, non-commercial" in listed


def test_a_shipped_model_file_is_verified_and_never_downloaded(tmp_path, cache, monkeypatch, capsys):
    (tmp_path / "Models").mkdir()
    model = save_checkpoint(tmp_path / "Models" / "brain.pt", {"w": torch.zeros(3)}, {"task": "segment"})
    entry = {"name": "brain", "task": "segment", "description": "T1 MRI brain extraction", "modality": "MRI",
             "channels": ["T1"], "spacing": [2, 2, 2], "labels": ["brain"], "licence": "Apache-2.0",
             "size": model.stat().st_size, "file": "Models/brain.pt",
             "sha256": hashlib.sha256(model.read_bytes()).hexdigest()}
    reg = tmp_path / "models.json"
    reg.write_text(json.dumps({"format": 1, "models": [entry]}))
    monkeypatch.setenv("GDIMAGING_MODELS", str(reg))
    assert fetch("brain") == model and resolve_model("brain", "segment") == model
    assert main(["models", "list"]) == 0
    assert re.search(r"^brain\s+model\s+segment\s+MRI\s+T1\s+2x2x2 mm\s+\S+ KB\s+shipped\s+Apache-2.0",
                     capsys.readouterr().out, re.M)
    assert cache_names(cache) == []
    model.write_bytes(model.read_bytes() + b"changed")
    with pytest.raises(ModelError, match="does not match its sha256 in the registry.*reinstall"):
        fetch("brain")
    assert main(["models", "list"]) == 0 and "shipped, damaged or missing" in capsys.readouterr().out


@pytest.mark.parametrize("changes, message", [
    ({"sha1": "abc"}, "sha1 must be 40"),
    ({"sha256": "0" * 64}, "give one checksum"),
    ({"kind": "zip"}, "kind must be one of model, bundle"),
    ({"file": "Models/x.pt"}, "either url .* or file"),
    ({"url": None, "file": "../x.pt"}, "file must be a .pt path inside"),
    ({"url": None, "file": "Models/x.pt"}, "a shipped file must be a GDImaging model.*size must be a positive"),
    ({"size": -1}, 'size must be a positive number of bytes \\(or "unknown"\\)'),
    ({"spacing": [1, 0, 1]}, "spacing must be a list of positive millimetres"),
    ({"channel": ["CT"]}, "unknown field"),
])
def test_registry_entries_are_checked(tmp_path, server, changes, message):
    raw = json.loads(registry(tmp_path, server).read_text())
    raw["models"][0] = {k: v for k, v in {**raw["models"][0], **changes}.items() if v is not None}
    (tmp_path / "models.json").write_text(json.dumps(raw))
    with pytest.raises(InputError, match=message):
        read_registry(tmp_path / "models.json")
