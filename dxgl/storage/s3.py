"""Blobs in an S3-compatible store, through obstore (the Python binding of the Rust
``object_store`` crate: async and sync APIs, multipart uploads, ranged GETs, presigned URLs, no
boto stack). A PUT, or a completed multipart upload, is atomic for readers: nobody sees half an
object. Large files go up as multipart uploads in ``PART_BYTES`` parts, never whole in memory.

Temporary objects (uploads streaming in while their request runs) live under ``tmp/``; a process
killed mid-way leaves them there, and possibly an unfinished multipart upload: ``sweep_store``
removes both once they are older than the temporary max age."""

from __future__ import annotations

import builtins
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import obstore
from obstore.exceptions import NotFoundError
from obstore.store import S3Store

from dxgl.storage import s3_uploads
from dxgl.storage.base import CHUNK, Blob, BlobSink, Storage, check_key
from dxgl.storage.s3_config import S3Config

if TYPE_CHECKING:
    from obstore import AsyncWritableFile

log = logging.getLogger(__name__)

PART_BYTES = 8 * 1024 * 1024  # S3's smallest part is 5 MiB; a few parts in flight at most
PART_CONCURRENCY = 2  # parts in flight: with PART_BYTES, what an upload may hold in memory
TEMP_PREFIX = "tmp"


class S3Sink(BlobSink):
    """A temporary object being written as a multipart upload (``obstore.open_writer_async``:
    at most ``PART_BYTES`` buffered). Leaving the writer with an error aborts the upload."""

    def __init__(self, store: S3Store, key: str) -> None:
        self.key = key
        self._writer: AsyncWritableFile = obstore.open_writer_async(
            store, key, buffer_size=PART_BYTES, max_concurrency=PART_CONCURRENCY
        )
        self._open = True

    async def write(self, chunk: bytes) -> None:
        await self._writer.write(chunk)

    async def commit(self) -> None:
        try:
            await self._writer.close()
        except BaseException:
            # The last part or CompleteMultipartUpload failed: abort, so no parts are left behind.
            await self.abort()
            raise
        self._open = False

    async def abort(self) -> None:
        if self._open:
            self._open = False
            try:
                await self._writer.__aexit__(RuntimeError, RuntimeError("upload aborted"), None)
            except Exception:  # the sweeper removes what an abort that failed left
                log.warning("aborting the multipart upload of %s failed", self.key, exc_info=True)


class S3Storage(Storage):
    def __init__(self, cfg: S3Config, scratch: Path) -> None:
        super().__init__(scratch)
        self.cfg = cfg
        config: dict[str, Any] = {
            "endpoint": cfg.endpoint,
            "region": cfg.region,
            "access_key_id": cfg.access_key_id,
            "secret_access_key": cfg.secret_access_key,
        }
        if cfg.session_token:
            config["token"] = cfg.session_token
        self.store = S3Store(
            cfg.bucket,
            prefix=cfg.prefix or None,
            config=config,  # type: ignore[arg-type]  # the keys of obstore's S3Config TypedDict
            client_options={"allow_http": cfg.endpoint.startswith("http://")},
        )

    def __repr__(self) -> str:
        return f"S3Storage(s3://{self.cfg.bucket}/{self.cfg.prefix})"

    # --- blobs ---------------------------------------------------------------------------------
    def publish(self, src: Path, key: str) -> None:
        obstore.put(self.store, check_key(key), src, chunk_size=PART_BYTES, max_concurrency=PART_CONCURRENCY)

    def copy(self, src_key: str, key: str) -> None:
        obstore.copy(self.store, check_key(src_key), check_key(key))

    def stat(self, key: str) -> int | None:
        try:
            return int(obstore.head(self.store, check_key(key))["size"])
        except (NotFoundError, FileNotFoundError):
            return None

    async def stat_async(self, key: str) -> int | None:
        try:
            return int((await obstore.head_async(self.store, check_key(key)))["size"])
        except (NotFoundError, FileNotFoundError):
            return None

    def delete(self, key: str) -> None:
        try:
            obstore.delete(self.store, check_key(key))
        except (NotFoundError, FileNotFoundError):
            pass

    def delete_prefix(self, prefix: str) -> None:
        keys = [blob.key for blob in self.list(check_key(prefix))]
        for start in range(0, len(keys), 1000):
            obstore.delete(self.store, keys[start : start + 1000])

    def list(self, prefix: str = "") -> Iterator[Blob]:
        for meta in self._list_meta(prefix):
            yield Blob(str(meta["path"]), int(meta["size"]))

    def _list_meta(self, prefix: str) -> Iterator[Any]:
        folder = prefix.strip("/")
        for batch in obstore.list(self.store, check_key(folder) if folder else None):
            yield from batch

    def fetch(self, key: str, dest: Path) -> None:
        staged = dest.with_name(dest.name + ".part")
        result = obstore.get(self.store, check_key(key))
        try:
            with open(staged, "wb") as out:
                for chunk in result.stream(min_chunk_size=CHUNK):
                    out.write(chunk)
            staged.replace(dest)
        finally:
            staged.unlink(missing_ok=True)

    async def stream(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        options: dict[str, Any] = {}
        if start or end is not None:
            options["range"] = (start, end) if end is not None else {"offset": start}
        result = await obstore.get_async(self.store, check_key(key), options=options)  # type: ignore[arg-type]
        async for chunk in result.stream(min_chunk_size=CHUNK):
            yield bytes(chunk)

    def presigned_url(self, key: str, expires_s: float) -> str | None:
        return obstore.sign(self.store, "GET", check_key(key), timedelta(seconds=expires_s))

    def sink(self) -> BlobSink:
        return S3Sink(self.store, f"{TEMP_PREFIX}/{uuid.uuid4().hex}.upload")

    # --- what killed processes left in the store ------------------------------------------------
    def sweep_store(self, max_age_s: float, *, now: float | None = None) -> builtins.list[str]:
        """Temporary objects and unfinished multipart uploads older than ``max_age_s``."""
        cutoff = (datetime.now(UTC) if now is None else datetime.fromtimestamp(now, UTC)) - timedelta(seconds=max_age_s)
        removed: builtins.list[str] = []
        for meta in self._list_meta(TEMP_PREFIX):
            if meta["last_modified"] < cutoff:
                self.delete(str(meta["path"]))
                removed.append(str(meta["path"]))
        for upload in s3_uploads.list_pending(self.cfg):
            if upload.initiated < cutoff:
                s3_uploads.abort(self.cfg, upload)
                removed.append(f"multipart:{upload.key}")
        return removed
