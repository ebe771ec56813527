"""Blobs in a local folder (the embedded default). Writes go to the scratch folder first
(``<root>/.tmp``, the same filesystem) and are published with an atomic rename, so a reader never
sees half a file and a failed write leaves nothing behind."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from dxgl.storage.base import CHUNK, Blob, Storage, check_key


class LocalStorage(Storage):
    """Files under ``root``, addressed by slash-separated keys such as ``models/<acct>/<id>.glb``."""

    local = True

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        super().__init__(self.root / ".tmp")

    def path(self, key: str) -> Path:
        return self.root / check_key(key)

    def local_path(self, key: str) -> Path | None:
        return self.path(key)

    def publish(self, src: Path, key: str) -> None:
        """Move ``src`` to ``key`` atomically (a file outside the scratch folder is copied first)."""
        dest = self.path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        if src.resolve().parent != self.tmp_dir:
            staged = self.temp_path()
            shutil.copyfile(src, staged)
            src = staged
        os.replace(src, dest)

    def copy(self, src_key: str, key: str) -> None:
        self.publish(self.path(src_key), key)

    def stat(self, key: str) -> int | None:
        path = self.path(key)
        return path.stat().st_size if path.is_file() else None

    async def stat_async(self, key: str) -> int | None:
        return self.stat(key)

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> None:
        shutil.rmtree(self.path(prefix), ignore_errors=True)

    def list(self, prefix: str = "") -> Iterator[Blob]:
        prefix = prefix.strip("/")
        base = self.path(prefix) if prefix else self.root
        if base.is_file():
            return
        for root, dirs, files in os.walk(base):
            dirs[:] = sorted(d for d in dirs if Path(root, d) != self.tmp_dir)
            for name in sorted(files):
                path = Path(root, name)
                key = path.relative_to(self.root).as_posix()
                try:
                    check_key(key)
                except ValueError:  # not a blob (say, an editor's or the OS's hidden file)
                    continue
                yield Blob(key, path.stat().st_size)

    def fetch(self, key: str, dest: Path) -> None:
        staged = dest.with_name(dest.name + ".part")
        shutil.copyfile(self.path(key), staged)
        os.replace(staged, dest)

    async def stream(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        path = self.path(key)
        with open(path, "rb") as src:
            src.seek(start)
            left = (end if end is not None else path.stat().st_size) - start
            while left > 0:
                chunk = await asyncio.to_thread(src.read, min(CHUNK, left))
                if not chunk:
                    return
                left -= len(chunk)
                yield chunk
