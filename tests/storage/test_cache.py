"""A worker's bounded local copy of the blobs it renders (``BlobCache``): fetched once, least
recently used evicted past the size, never a copy in use; the local folder needs no copy."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from dxgl.storage import BlobCache, Storage
from dxgl.storage.local import LocalStorage


def _put(storage: Storage, tmp_path: Path, key: str, size: int) -> bytes:
    data = os.urandom(size)
    src = tmp_path / "src"
    src.write_bytes(data)
    storage.publish(src, key)
    return data


async def test_least_recently_used_copies_go_first_but_never_one_in_use(storage: Storage, tmp_path: Path) -> None:
    cache = BlobCache(storage, tmp_path / "cache", max_bytes=250)
    blobs = {key: _put(storage, tmp_path, key, 100) for key in ("models/a/1.glb", "models/a/2.glb", "models/a/3.glb")}
    if isinstance(storage, LocalStorage):  # nothing to copy: the blob's own file
        async with cache.use("models/a/1.glb") as path:
            assert path == storage.path("models/a/1.glb")
        assert not (tmp_path / "cache").exists()
        return
    async with cache.use("models/a/1.glb") as first:
        assert first.read_bytes() == blobs["models/a/1.glb"] and first.is_relative_to(cache.root)
        os.utime(first, (time.time() - 100, time.time() - 100))  # the oldest use
        async with cache.use("models/a/2.glb") as second:
            os.utime(second, (time.time() - 50, time.time() - 50))
            async with cache.use("models/a/3.glb") as third:  # 300 bytes > 250, but all three in use
                assert first.exists() and second.exists() and third.exists()
        cache.evict()  # 1 is still in use: 2, the least recently used of the others, goes
        assert first.exists() and not second.exists() and third.exists()
    async with cache.use("models/a/2.glb") as again:  # fetched again, now the most recent
        assert again.read_bytes() == blobs["models/a/2.glb"]
    assert sorted(p.name for p in cache.root.rglob("*") if p.is_file()) == ["2.glb", "3.glb"]


async def test_a_missing_blob_is_file_not_found(storage: Storage, tmp_path: Path) -> None:
    cache = BlobCache(storage, tmp_path / "cache", max_bytes=1000)
    with pytest.raises(FileNotFoundError):
        async with cache.use("models/a/none.glb"):
            pass
    with pytest.raises(FileNotFoundError):
        await cache.fetch("overlays/none.png")


def test_eviction_never_removes_a_download_in_progress(storage: Storage, tmp_path: Path) -> None:
    """A ``.part`` file is another render's download still being written: eviction skips it (it
    becomes a copy, pinned by its render, once complete), however full the cache is."""
    cache = BlobCache(storage, tmp_path / "cache", max_bytes=10)
    partial = cache.root / "models" / "a" / "1.glb.part"
    partial.parent.mkdir(parents=True)
    partial.write_bytes(os.urandom(100))
    done = cache.root / "models" / "a" / "2.glb"
    done.write_bytes(os.urandom(100))
    os.utime(done, (time.time() - 100, time.time() - 100))
    assert cache.evict() == [done]
    assert partial.exists()


def test_key_of_names_only_copies_of_this_cache(storage: Storage, tmp_path: Path) -> None:
    cache = BlobCache(storage, tmp_path / "cache", max_bytes=10)
    assert cache.key_of(cache.root / "overlays" / "o.png") == "overlays/o.png"
    assert cache.key_of(tmp_path / "elsewhere.png") is None
