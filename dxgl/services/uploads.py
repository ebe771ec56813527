"""What the adapters hand to the services for an uploaded file: it is already in storage's
temporary folder, with its size and SHA-256 computed while it streamed in."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from dxgl.contract import ErrorCode
from dxgl.errors import DxglError

MIB = 1024 * 1024


@dataclass
class UploadedFile:
    path: Path
    size: int
    sha256: str
    filename: str

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


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
