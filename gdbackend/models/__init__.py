"""Pretrained models: the registry (Resources/models.json), a checked downloader with resume, and the
local cache ($GDIMAGING_CACHE or ~/.cache/gdimaging)::

    from gdbackend.models import read_registry, fetch, import_model
    path = fetch("brain-t1", progress=lambda done, total: print(done, total))
    path = import_model("my_model.pt", task="segment")
"""
from .cache import cached, fetch, import_model
from .download import download, sha256_of
from .registry import ModelEntry, cache_dir, find, read_registry

__all__ = ["ModelEntry", "cache_dir", "cached", "download", "fetch", "find", "import_model", "read_registry",
           "sha256_of"]
