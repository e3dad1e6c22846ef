"""Pretrained models: the registry (Resources/models.json: GDImaging models and MONAI Model Zoo bundles), a
checked downloader with resume and cancel, safe unpacking of bundle zips, and the local cache
($GDIMAGING_CACHE or ~/.cache/gdimaging)::

    from gdbackend.models import read_registry, fetch, import_model, resolve_model
    path = fetch("spleen_ct_segmentation", progress=lambda done, total: print(done, total))
    path = resolve_model("spleen_ct_segmentation", task="segment")   # the cached bundle folder, no request
    path = import_model("my_model.pt", task="segment")

The registry and the downloader need no torch, so the panels list models before PyTorch is installed; the
cache (which loads models to check them) is imported on first use of its names.
"""
from ..lazy import lazy_exports
from .download import digest_of, download
from .registry import ModelEntry, cache_dir, find, read_registry

_HOMES = {"cached": "cache", "cached_path": "cache", "fetch": "cache", "import_model": "cache",
          "resolve_model": "resolve"}
__all__ = ["ModelEntry", "cache_dir", "digest_of", "download", "find", "read_registry", *sorted(_HOMES)]
__getattr__ = lazy_exports(__name__, _HOMES)
