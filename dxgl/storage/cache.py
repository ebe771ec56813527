"""A worker's bounded local copy of the blobs it renders from (``DXGL_CACHE_DIR``,
``DXGL_CACHE_MAX_BYTES``), so that a worker needs no disk shared with the API: a model (or an
overlay image) is fetched from the store the first time a render needs it and then read locally.

Past ``max_bytes`` the least recently used copies are evicted (the last use is the file's mtime,
so the order survives a restart), never one that a render of this process is using. Keys name
immutable blobs (a model's file or an overlay's image is written once), so a copy is valid for as
long as it exists. With the local folder there is nothing to copy: the blob's own file is used."""

from __future__ import annotations

import asyncio
import os
import threading
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from dxgl.storage.base import Storage, check_key


class BlobCache:
    def __init__(self, storage: Storage, root: Path, max_bytes: int) -> None:
        self.storage = storage
        self.root = root.resolve()
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._fetching: dict[str, threading.Lock] = {}
        self._pinned: Counter[str] = Counter()

    @asynccontextmanager
    async def use(self, key: str) -> AsyncIterator[Path]:
        """The blob as a local file for the duration of the block (FileNotFoundError: none)."""
        local = self.storage.local_path(key)
        if local is not None:
            if not local.is_file():
                raise FileNotFoundError(key)
            yield local
            return
        with self._lock:
            self._pinned[key] += 1
        try:
            yield await asyncio.to_thread(self._get, key)
        finally:
            with self._lock:
                self._pinned[key] -= 1
                if self._pinned[key] <= 0:
                    del self._pinned[key]

    async def fetch(self, key: str) -> Path:
        """The blob as a local file, not pinned (small blobs such as overlay images: the copy just
        used is the most recently used, evicted last)."""
        local = self.storage.local_path(key)
        if local is not None:
            if not local.is_file():
                raise FileNotFoundError(key)
            return local
        return await asyncio.to_thread(self._get, key)

    def key_of(self, path: Path) -> str | None:
        """The key of a copy this cache holds at ``path`` (None: not a path of this cache)."""
        try:
            return path.resolve().relative_to(self.root).as_posix()
        except ValueError:
            return None

    def _get(self, key: str) -> Path:
        path = self.root / check_key(key)
        with self._lock:
            fetching = self._fetching.setdefault(key, threading.Lock())
        with fetching:  # one download per key, however many renders ask at once
            if path.is_file():
                os.utime(path)  # most recently used
                return path
            if self.storage.stat(key) is None:
                raise FileNotFoundError(key)
            path.parent.mkdir(parents=True, exist_ok=True)
            self.storage.fetch(key, path)
        self.evict()
        return path

    def evict(self) -> list[Path]:
        """Remove least recently used copies until the cache holds at most ``max_bytes``."""
        files: list[tuple[float, int, Path]] = []
        for root, _dirs, names in os.walk(self.root):
            for name in names:
                if name.endswith(".part"):  # a download in progress (another render's): never evicted
                    continue
                path = Path(root, name)
                try:
                    st = path.stat()
                except FileNotFoundError:
                    continue
                files.append((st.st_mtime, st.st_size, path))
        total = sum(size for _, size, _ in files)
        removed: list[Path] = []
        with self._lock:
            pinned = {self.root / k for k in self._pinned}
        for _mtime, size, path in sorted(files):
            if total <= self.max_bytes:
                break
            if path in pinned:
                continue
            path.unlink(missing_ok=True)
            total -= size
            removed.append(path)
        return removed
