"""What the adapters hand to the services for an uploaded file: it is already in storage's
scratch folder (the bounded local copy the ingest sandbox parses) and, on an object store, also
in a temporary object there, with its size and SHA-256 computed while it streamed in."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from dxgl.contract import ErrorCode
from dxgl.errors import DxglError
from dxgl.storage import BlobSink, Storage

MIB = 1024 * 1024


@dataclass
class UploadedFile:
    path: Path
    size: int
    sha256: str
    filename: str
    # The same bytes as a temporary object in the store (S3), or None (the local folder).
    staged_key: str | None = None
    storage: Storage | None = field(default=None, repr=False)

    def discard(self) -> None:
        """Remove the local copy and the temporary object: at the end of every request."""
        self.path.unlink(missing_ok=True)
        if self.staged_key is not None and self.storage is not None:
            self.storage.delete(self.staged_key)
            self.staged_key = None

    async def release(self) -> None:
        """``discard`` from async code: the temporary object's DELETE is a network call to the store,
        made off the event loop so a slow store never stalls other requests."""
        await asyncio.to_thread(self.discard)


def require_content(upload: UploadedFile) -> None:
    """An empty file is not a model or an image: invalid_format (and the temporary file is removed)."""
    if upload.size == 0:
        upload.discard()
        raise DxglError(ErrorCode.INVALID_FORMAT, "The uploaded file is empty")


class HashingWriter:
    """Write chunks to ``path``, hashing and counting them; over ``limit`` bytes -> file_too_large
    (the partial file is removed). Never holds more than one chunk in memory."""

    def __init__(self, path: Path, limit: int) -> None:
        self.path = path
        self.limit = limit
        self.size = 0
        self._hash = hashlib.sha256()
        self._file = open(path, "wb")  # noqa: SIM115 (closed in finish/abort)

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            self.abort()
            raise DxglError(ErrorCode.FILE_TOO_LARGE, f"File exceeds the {self.limit // MIB} MB limit")
        self._hash.update(chunk)
        self._file.write(chunk)

    def finish(self, filename: str) -> UploadedFile:
        self._file.close()
        return UploadedFile(self.path, self.size, self._hash.hexdigest(), filename)

    def abort(self) -> None:
        self._file.close()
        self.path.unlink(missing_ok=True)


class StreamingUpload:
    """An upload on its way in: each chunk is counted and hashed (``HashingWriter``, with the
    limit), written to the local scratch copy, and streamed on into the store's multipart upload
    (``Storage.sink``; none for the local folder). ``write`` is synchronous (parser callbacks call
    it); ``drain`` hands what was written since to the store, so at most the chunks of one read
    wait in memory. Any failure, the limit included, must end in ``abort``: the multipart upload is
    aborted and the local copy removed, so no part is left anywhere."""

    def __init__(self, storage: Storage, limit: int, suffix: str = ".upload") -> None:
        self.storage = storage
        self._local = HashingWriter(storage.temp_path(suffix), limit)
        self._sink: BlobSink | None = storage.sink()
        self._pending: list[bytes] = []

    @property
    def size(self) -> int:
        return self._local.size

    def write(self, chunk: bytes) -> None:
        self._local.write(chunk)
        if self._sink is not None:
            self._pending.append(bytes(chunk))

    async def drain(self) -> None:
        pending, self._pending = self._pending, []
        if self._sink is not None:
            for chunk in pending:
                await self._sink.write(chunk)

    async def finish(self, filename: str) -> UploadedFile:
        try:
            await self.drain()
            if self._sink is not None:
                await self._sink.commit()
        except BaseException:
            await self.abort()
            raise
        upload = self._local.finish(filename)
        upload.storage = self.storage
        if self._sink is not None:
            upload.staged_key = self._sink.key
            self._sink = None
        return upload

    async def abort(self) -> None:
        self._pending = []
        self._local.abort()
        if self._sink is not None:
            sink, self._sink = self._sink, None
            await sink.abort()
