"""The one interface every blob goes through (model files and their decoded copies, render assets,
dataset archives, overlays), whatever the backend: the local folder (``local.py``) or an
S3-compatible store (``s3.py``).

Two places are involved. **The store** holds published blobs under slash-separated keys such as
``models/<acct>/<id>.glb``; a reader never sees half a blob (an atomic rename locally, one PUT or
one completed multipart upload on S3). **The scratch folder** is local to each process and holds
what is not published: uploads being received (the bounded copy the ingest sandbox parses), ingest
and render work folders. A process killed mid-way (``kill -9``) leaves its entries there;
:meth:`Storage.remove_stale_temp` is the one rule that removes them (and, on S3, what such a
process left in the store: ``sweep_store``)."""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")
CHUNK = 1024 * 1024


def check_key(key: str) -> str:
    """A key is slash-separated names of letters, digits, ``.``, ``_`` and ``-``; never ``..``."""
    if not _KEY.match(key) or ".." in key.split("/"):
        raise ValueError(f"bad storage key {key!r}")
    return key


@dataclass(frozen=True)
class Blob:
    key: str
    size: int


class BlobSink(ABC):
    """An upload being written into the store while it arrives (S3: a multipart upload). Nothing
    is visible at ``key`` until :meth:`commit`; :meth:`abort` leaves nothing behind."""

    key: str

    @abstractmethod
    async def write(self, chunk: bytes) -> None: ...

    @abstractmethod
    async def commit(self) -> None: ...

    @abstractmethod
    async def abort(self) -> None: ...


class Storage(ABC):
    """Blobs addressed by key, plus this process's scratch folder (``tmp_dir``)."""

    #: True when blobs are files on this machine (``local_path`` answers).
    local: bool = False

    def __init__(self, scratch: Path) -> None:
        self.tmp_dir = scratch.resolve()
        self.tmp_dir.mkdir(parents=True, exist_ok=True)

    # --- scratch (local to this process) -----------------------------------------------------
    def temp_path(self, suffix: str = "") -> Path:
        """A fresh path in the scratch folder."""
        return self.tmp_dir / f"{uuid.uuid4().hex}{suffix}"

    def temp_dir(self) -> Path:
        return Path(tempfile.mkdtemp(dir=self.tmp_dir))

    def remove_stale_temp(self, max_age_s: float, *, now: float | None = None) -> list[Path]:
        """Remove every entry of the scratch folder (a file, or a work folder with all it holds)
        in which nothing was modified for longer than ``max_age_s``: what a killed process left.

        An entry's age is that of its newest modification: a folder's own mtime or that of anything
        inside it, whichever is latest, so a folder that a live upload or render still writes into
        is young however old the folder itself is. An entry exactly ``max_age_s`` old, or younger,
        is never touched. Safe to run in several processes at once (an entry that vanishes while
        it is looked at is skipped). Returns the removed entries."""
        now = time.time() if now is None else now
        removed: list[Path] = []
        try:
            entries = list(os.scandir(self.tmp_dir))
        except FileNotFoundError:
            return removed
        for entry in entries:
            path = Path(entry.path)
            try:
                if now - _newest_mtime(entry) <= max_age_s:
                    continue
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(path)
                else:
                    path.unlink()
            except FileNotFoundError:  # removed meanwhile (by another process's clean-up)
                continue
            except OSError as err:  # e.g. permissions: left for the next run, said in the log
                log.warning("could not remove the stale temporary %s: %s", path, err)
                continue
            removed.append(path)
        return removed

    def sweep_store(self, max_age_s: float, *, now: float | None = None) -> list[str]:
        """What killed processes left in the store itself, older than ``max_age_s``: temporary
        objects and unfinished multipart uploads (S3). The local folder has none (its temporaries
        are scratch entries). Returns what was removed."""
        return []

    # --- blobs ---------------------------------------------------------------------------------
    @abstractmethod
    def publish(self, src: Path, key: str) -> None:
        """Store the local file ``src`` at ``key`` (replacing what was there), atomically for
        readers. Blocking: call it from a thread in async code."""

    def publish_dir(self, src_dir: Path, prefix: str) -> None:
        """Publish every file of ``src_dir`` under ``prefix/`` (each file atomically)."""
        for item in sorted(src_dir.iterdir()):
            if item.is_file():
                self.publish(item, f"{prefix}/{item.name}")

    @abstractmethod
    def copy(self, src_key: str, key: str) -> None:
        """Store a copy of the blob ``src_key`` at ``key`` (on S3, a copy inside the server)."""

    @abstractmethod
    def stat(self, key: str) -> int | None:
        """The blob's size, or None when there is none at ``key``."""

    def exists(self, key: str) -> bool:
        return self.stat(key) is not None

    def size(self, key: str) -> int:
        size = self.stat(key)
        if size is None:
            raise FileNotFoundError(key)
        return size

    @abstractmethod
    async def stat_async(self, key: str) -> int | None: ...

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the blob (nothing there is fine)."""

    @abstractmethod
    def delete_prefix(self, prefix: str) -> None:
        """Remove every blob under ``prefix/``."""

    @abstractmethod
    def list(self, prefix: str = "") -> Iterator[Blob]:
        """Every blob under the folder ``prefix`` (``renders/<id>``; all of them with ``""``)."""

    @abstractmethod
    def fetch(self, key: str, dest: Path) -> None:
        """Copy the blob into the local file ``dest`` (written whole or not at all)."""

    @abstractmethod
    def stream(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """The bytes ``[start, end)`` of the blob, chunk by chunk (never the whole blob in memory)."""

    def local_path(self, key: str) -> Path | None:
        """The blob's file on this machine, when the backend is the local folder."""
        return None

    def presigned_url(self, key: str, expires_s: float) -> str | None:
        """A short-lived URL a client may GET the blob from without credentials (None: not
        supported by this backend, so the API streams it)."""
        return None

    def sink(self) -> BlobSink | None:
        """Somewhere in the store an upload streams into while it arrives (None: the local folder,
        where the scratch copy is itself what gets published)."""
        return None


def _newest_mtime(entry: os.DirEntry[str]) -> float:
    """The latest mtime of ``entry`` and, for a folder, of everything below it (links not followed)."""
    newest = entry.stat(follow_symlinks=False).st_mtime
    if not entry.is_dir(follow_symlinks=False):
        return newest
    for root, dirs, files in os.walk(entry.path, followlinks=False):
        for name in (*dirs, *files):
            try:
                newest = max(newest, os.lstat(os.path.join(root, name)).st_mtime)
            except FileNotFoundError:
                continue
    return newest
