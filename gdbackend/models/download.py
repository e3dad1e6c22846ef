"""Download a model file over HTTP(S): progress, cancel, resume of an interrupted download (HTTP Range),
checksum (sha256, or the SHA-1 the MONAI Model Zoo publishes), and an atomic rename so that the cache never
holds a partial or unverified file.

The bytes received so far are kept in a hidden `.NAME.part` file beside the target, so a dropped
connection or a cancel costs only the retry; a file whose checksum does not match is deleted, never kept.
No torch here (the panels hash shipped files before PyTorch is installed).
"""
from __future__ import annotations

import hashlib
import http.client
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable

from ..errors import ModelError, ResourceError
from ..resources import check_disk_space

# progress(bytes so far, total bytes or None); it may raise Cancelled (gdbackend.errors) to stop: the bytes
# received are kept for the next try
Progress = Callable[[int, "int | None"], None]
CHUNK = 1 << 16
SPACE_HINT = "free some space or set GDIMAGING_CACHE elsewhere"


def digest_of(path: Path, algorithm: str = "sha256") -> str:
    """The hex digest of a file (algorithm: a hashlib name, sha256 or sha1)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, algorithm).hexdigest()


def part_path(dest: Path) -> Path:
    """The hidden file the bytes of `dest` arrive in (`.NAME.part`, also for a hidden `dest`)."""
    return dest.with_name(f".{dest.name.lstrip('.')}.part")


def _receive(url: str, part: Path, timeout: float, progress: Progress | None) -> None:
    """One request continuing `part` from its current length; raises OSError/HTTPException if cut off.
    The room for the rest is checked once the server says how much is coming (Content-Length)."""
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        resumed = have > 0 and response.status == 206 and \
            response.headers.get("Content-Range", "").startswith(f"bytes {have}-")
        if not resumed:
            have = 0  # the server sent the whole file: start over
        length = response.headers.get("Content-Length")
        total = have + int(length) if length is not None else None
        if length is not None:
            check_disk_space(part.parent, int(length), f"the download of {url}", SPACE_HINT)
        done = have
        with open(part, "ab" if resumed else "wb") as f:
            while chunk := response.read(CHUNK):
                f.write(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
            f.flush()
            os.fsync(f.fileno())
        if total is not None and done < total:
            raise http.client.IncompleteRead(b"", total - done)


def download(url: str, dest: str | Path, digest: str, size: int | None = None, progress: Progress | None = None,
             retries: int = 3, timeout: float = 30.0, algorithm: str = "sha256") -> Path:
    """Fetch `url` to `dest`, resuming up to `retries` times after a dropped connection; `dest` appears
    only once its checksum matches. A later call resumes from the bytes kept after a failure or a cancel.

    Args:
        digest: the expected hex digest of the whole file, by `algorithm` ("sha256" or "sha1").
        size: the file's bytes when known (checked against the free space before asking the server);
            otherwise the server's Content-Length is checked.
        progress: called after each chunk; raising Cancelled from it stops the download.
    """
    dest = Path(dest)
    part = part_path(dest)
    if size is not None:
        check_disk_space(dest.parent, size - (part.stat().st_size if part.exists() else 0), "the model", SPACE_HINT)
    error: Exception | None = None
    for _ in range(retries + 1):
        if size is not None and part.exists() and part.stat().st_size == size:
            break  # every byte arrived before an earlier try was cut off
        try:
            _receive(url, part, timeout, progress)
            break
        except urllib.error.HTTPError as e:
            if e.code == 416:  # asked past the end: the kept bytes are not a prefix of this file
                part.unlink(missing_ok=True)
                error = e
                continue
            raise ResourceError(f"Download of {url} failed: HTTP {e.code} {e.reason}. Check the URL or try later.") \
                from None
        except (urllib.error.URLError, http.client.HTTPException, OSError) as e:
            error = e
    else:
        kept = part.stat().st_size if part.exists() else 0
        raise ResourceError(f"Download of {url} failed {retries + 1} times ({type(error).__name__}: {error}); "
                            f"{kept} bytes are kept and the next try resumes from there.")
    found = digest_of(part, algorithm)
    if found != digest.lower():
        part.unlink(missing_ok=True)
        raise ModelError(f"The file downloaded from {url} has {algorithm} {found}, not the expected {digest}: it was "
                         "deleted. The file on the server changed or was tampered with; do not use it.")
    os.replace(part, dest)
    return dest
