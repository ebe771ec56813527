"""``dxgl storage migrate [--from DIR]``: copy a local folder's blobs into the S3 store named by
``DXGL_STORAGE_URL``, so that an embedded install can move to the production shape.

Each blob is uploaded, then read back from the store and checked: the same size and the same
SHA-256 as the local file (a mismatch removes the copy and fails). Verified keys are appended to a
journal (``DXGL_DATA_DIR/storage-migrate.jsonl``, one JSON line each), so a run that stops (killed,
network gone) resumes where it left off: a key in the journal whose object still has that size is
skipped. Nothing in the local folder is changed or removed; the folder's ``.tmp`` is not copied."""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from dxgl.config import get_settings
from dxgl.storage import LocalStorage, Storage, open_storage

CHUNK = 1024 * 1024


@dataclass
class MigrateReport:
    copied: int = 0
    skipped: int = 0
    bytes_copied: int = 0


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as src:
        while chunk := src.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


async def _sha256_stream(chunks: AsyncIterator[bytes]) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    async for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
    return size, digest.hexdigest()


def _journal(path: Path) -> dict[str, tuple[int, str]]:
    done: dict[str, tuple[int, str]] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                entry = json.loads(line)
                done[entry["key"]] = (int(entry["size"]), str(entry["sha256"]))
            except (ValueError, KeyError, TypeError):
                continue  # a line cut short by a kill: that key is simply copied again
    return done


async def migrate(source: LocalStorage, dest: Storage, journal: Path, out: TextIO = sys.stdout) -> MigrateReport:
    """Copy every blob of ``source`` into ``dest``, verified, resumable (see the module)."""
    done = _journal(journal)
    report = MigrateReport()
    journal.parent.mkdir(parents=True, exist_ok=True)
    with open(journal, "a") as log:
        for blob in source.list():
            local = source.path(blob.key)
            known = done.get(blob.key)
            if known is not None and known[0] == blob.size and await dest.stat_async(blob.key) == blob.size:
                report.skipped += 1
                continue
            sha256 = _sha256_file(local)
            dest.publish(local, blob.key)
            size, stored = await _sha256_stream(dest.stream(blob.key))
            if (size, stored) != (blob.size, sha256):
                dest.delete(blob.key)
                raise RuntimeError(
                    f"{blob.key}: the stored copy differs (size {size} vs {blob.size}, sha256 {stored} vs {sha256})"
                )
            log.write(json.dumps({"key": blob.key, "size": size, "sha256": sha256}) + "\n")
            log.flush()
            report.copied += 1
            report.bytes_copied += size
            print(f"copied {blob.key} ({size} bytes, sha256 verified)", file=out, flush=True)
    return report


def migrate_command(args: argparse.Namespace) -> int:
    import asyncio

    settings = get_settings()
    if not settings.storage_url:
        print("error: set DXGL_STORAGE_URL=s3://BUCKET[/PREFIX] (and AWS_*) to name the store to copy into")
        return 2
    source_dir = Path(args.source) if args.source else settings.files_dir
    if not source_dir.is_dir():
        print(f"error: {source_dir} is not a folder")
        return 2
    dest = open_storage(settings)
    report = asyncio.run(migrate(LocalStorage(source_dir), dest, settings.data_dir / "storage-migrate.jsonl"))
    print(
        f"done: {report.copied} blob(s) copied ({report.bytes_copied} bytes), "
        f"{report.skipped} already there; every copy verified by size and SHA-256"
    )
    return 0
