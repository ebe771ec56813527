"""Blob storage in a local folder. Writes go to a temporary file first and are published with an
atomic rename, so a reader never sees half a file and a failed write leaves nothing behind.

Everything unpublished lives in the temporary folder (``<root>/.tmp``): uploads being received,
ingest and render work folders, files being staged. A process killed mid-way (``kill -9``) leaves
its entries there; :meth:`LocalStorage.remove_stale_temp` is the one rule that removes them."""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import time
import uuid
from pathlib import Path

log = logging.getLogger(__name__)

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

    def remove_stale_temp(self, max_age_s: float, *, now: float | None = None) -> list[Path]:
        """Remove every entry of the temporary folder (a file, or a work folder with all it holds)
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
