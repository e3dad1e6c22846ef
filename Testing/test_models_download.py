"""Model registry and downloader against a real HTTP server on loopback: a good download, resume after a
dropped connection, a server that ignores Range, and a wrong checksum that leaves nothing in the cache."""
from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch

from gdbackend.errors import InputError, ModelError, ResourceError
from gdbackend.models import cached, download, fetch, import_model, read_registry
from gdbackend.train import save_checkpoint


class Handler(BaseHTTPRequestHandler):
    """Serves server.body at /model.pt with Range support; server.drops[i] cuts request i off after that many
    bytes of the body (None: send it all)."""

    def do_GET(self) -> None:
        server = self.server
        server.ranges.append(self.headers.get("Range"))
        body, start = server.body, 0
        asked = self.headers.get("Range")
        if asked and server.honour_range:
            start = int(asked.removeprefix("bytes=").split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        drop = server.drops[len(server.ranges) - 1] if len(server.ranges) <= len(server.drops) else None
        self.wfile.write(body[start:] if drop is None else body[start:start + drop])
        self.wfile.flush()
        if drop is not None:
            self.close_connection = True

    def log_message(self, *args) -> None:
        pass


@contextlib.contextmanager
def serving(body: bytes, name: str) -> Iterator[ThreadingHTTPServer]:
    """A loopback server of `body` at /name, with Handler's Range support and its drop/range controls."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.body, httpd.ranges, httpd.drops, httpd.honour_range = body, [], [], True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}/{name}"
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def server(tmp_path):
    model = tmp_path / "served.pt"
    save_checkpoint(model, {"w": torch.randn(60_000, generator=torch.Generator().manual_seed(0))},
                    {"task": "segment", "network": "unet"})
    with serving(model.read_bytes(), "model.pt") as httpd:
        yield httpd


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("GDIMAGING_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "models"


def registry(tmp_path: Path, server, sha256: str | None = None, **changes) -> Path:
    entry = {"name": "brain-test", "task": "segment", "description": "served on loopback", "url": server.url,
             "sha256": sha256 or hashlib.sha256(server.body).hexdigest(), "size": len(server.body),
             "labels": ["background", "brain"], "licence": "CC0-1.0", **changes}
    path = tmp_path / "models.json"
    path.write_text(json.dumps({"format": 1, "models": [entry]}))
    return path


def test_good_download_with_progress_then_cache_hit(tmp_path, server, cache):
    seen = []
    path = fetch("brain-test", registry(tmp_path, server), progress=lambda done, total: seen.append((done, total)))
    assert path.read_bytes() == server.body and path.parent == cache
    assert seen[-1] == (len(server.body), len(server.body))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and len(seen) > 1
    assert sorted(p.name for p in cache.iterdir()) == ["brain-test.pt"]
    assert fetch("brain-test", registry(tmp_path, server)) == path
    assert len(server.ranges) == 1, "a verified cached model is not downloaded again"


def test_resume_after_dropped_connections(tmp_path, server, cache):
    n = len(server.body)
    server.drops = [n // 3, n // 4]
    path = fetch("brain-test", registry(tmp_path, server))
    assert path.read_bytes() == server.body
    assert server.ranges == [None, f"bytes={n // 3}-", f"bytes={n // 3 + n // 4}-"]


def test_later_call_resumes_kept_bytes(tmp_path, server, cache):
    n = len(server.body)
    server.drops = [n // 2]
    sha = hashlib.sha256(server.body).hexdigest()
    cache.mkdir(parents=True)
    with pytest.raises(ResourceError, match=f"{n // 2} bytes are kept"):
        download(server.url, cache / "m.pt", sha, n, retries=0)
    assert not (cache / "m.pt").exists()
    download(server.url, cache / "m.pt", sha, n, retries=0)
    assert (cache / "m.pt").read_bytes() == server.body
    assert server.ranges == [None, f"bytes={n // 2}-"]


def test_server_ignoring_range_restarts_cleanly(tmp_path, server, cache):
    server.honour_range, server.drops = False, [1000]
    assert fetch("brain-test", registry(tmp_path, server)).read_bytes() == server.body


def test_wrong_checksum_is_refused_and_nothing_is_left(tmp_path, server, cache):
    with pytest.raises(ModelError, match="sha256.*deleted"):
        fetch("brain-test", registry(tmp_path, server, sha256="0" * 64))
    assert list(cache.iterdir()) == []


def test_right_checksum_but_not_a_model_of_the_task_is_removed(tmp_path, server, cache):
    with pytest.raises(ModelError, match="not a 'classify' model"):
        fetch("brain-test", registry(tmp_path, server, task="classify"))
    assert list(cache.iterdir()) == []


def test_registry_entries_are_checked(tmp_path, server):
    with pytest.raises(InputError, match="sha256 must be 64"):
        read_registry(registry(tmp_path, server, sha256="abc"))
    with pytest.raises(InputError, match="url must be http"):
        read_registry(registry(tmp_path, server, url="ftp://example.org/m.pt"))
    with pytest.raises(InputError, match="task must be one of"):
        read_registry(registry(tmp_path, server, task="denoise"))
    bad = tmp_path / "bad.json"
    bad.write_text('{"models": [{"name": "x"}]}')
    with pytest.raises(InputError, match="lacks task"):
        read_registry(bad)
    entry = read_registry(registry(tmp_path, server))[0]
    twice = tmp_path / "twice.json"
    twice.write_text(json.dumps({"models": [json.loads((tmp_path / "models.json").read_text())["models"][0]] * 2}))
    with pytest.raises(InputError, match="more than once"):
        read_registry(twice)
    assert entry.labels == ("background", "brain")


def test_shipped_registry_is_valid():
    from gdbackend.models.cache import shipped_file
    for entry in read_registry(Path(__file__).resolve().parents[1] / "Resources" / "models.json"):
        if entry.shipped:  # in the extension: present and matching its sha256
            assert shipped_file(entry).stat().st_size == entry.size, entry.name
        else:
            assert entry.url.startswith("https://"), entry.name


def test_import_local_model_file(tmp_path, server, cache):
    local = tmp_path / "mine.pt"
    local.write_bytes(server.body)
    assert import_model(local, task="segment").read_bytes() == server.body
    not_a_model = tmp_path / "notes.pt"
    not_a_model.write_text("hello")
    with pytest.raises(ModelError):
        import_model(not_a_model)
    with pytest.raises(ModelError, match="not a 'detect' model"):
        import_model(local, name="other", task="detect")
    assert [p.name for p in cached()] == ["mine.pt"]


def test_cli_list_fetch(tmp_path, server, cache, monkeypatch, capsys):
    from gdbackend.cli import main
    monkeypatch.setenv("GDIMAGING_MODELS", str(registry(tmp_path, server)))
    assert main(["models", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [e["name"] for e in listed["registry"]] == ["brain-test"] and listed["cache"] == []
    assert main(["models", "fetch", "brain-test"]) == 0
    assert Path(capsys.readouterr().out.strip()).read_bytes() == server.body
    assert main(["models", "fetch", "nothing"]) == 2
    assert "No model named 'nothing'" in capsys.readouterr().err
