"""Blob storage in a local folder. Writes go to a temporary file first and are published with an
atomic rename, so a reader never sees half a file and a failed write leaves nothing behind."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import uuid
from pathlib import Path

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")


class LocalStorage:
    """Files under ``root``, addressed by slash-separated keys such as ``models/<acct>/<id>.glb``."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.tmp_dir = self.root / ".tmp"
        self.tmp_dir.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        if not _KEY.match(key) or ".." in key.split("/"):
            raise ValueError(f"bad storage key {key!r}")
        return self.root / key

    def temp_path(self, suffix: str = "") -> Path:
        """A fresh path in the storage's temporary folder (same filesystem: rename is atomic)."""
        return self.tmp_dir / f"{uuid.uuid4().hex}{suffix}"

    def temp_dir(self) -> Path:
        return Path(tempfile.mkdtemp(dir=self.tmp_dir))

    def publish(self, src: Path, key: str) -> Path:
        """Move ``src`` to ``key`` atomically (replacing what was there)."""
        dest = self.path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        if src.resolve().parent != self.tmp_dir:
            staged = self.temp_path()
            shutil.copyfile(src, staged)
            src = staged
        os.replace(src, dest)
        return dest

    def publish_dir(self, src_dir: Path, prefix: str) -> None:
        """Publish every file of ``src_dir`` under ``prefix/`` (each file atomically)."""
        for item in sorted(src_dir.iterdir()):
            if item.is_file():
                self.publish(item, f"{prefix}/{item.name}")

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def size(self, key: str) -> int:
        return self.path(key).stat().st_size

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> None:
        shutil.rmtree(self.path(prefix), ignore_errors=True)
