"""The GraphQL multipart request's file, copied chunk by chunk into storage's temporary folder
with its SHA-256 and size computed on the way (``HashingWriter`` enforces the upload limit)."""

from __future__ import annotations

import inspect
from typing import Any

from dxgl.contract import ErrorCode
from dxgl.errors import DxglError
from dxgl.runtime import Runtime
from dxgl.services.uploads import HashingWriter, UploadedFile

CHUNK_BYTES = 1024 * 1024


async def _read(file: Any, size: int) -> bytes:
    chunk = file.read(size)
    return await chunk if inspect.isawaitable(chunk) else chunk


async def receive_upload(rt: Runtime, file: Any, *, limit: int | None = None) -> UploadedFile:
    """``file`` is Starlette's UploadFile (anything with ``read(n)`` works). The caller owns the
    returned temporary file (``services.models.upload_model`` consumes it)."""
    if file is None or not hasattr(file, "read"):
        raise DxglError(
            ErrorCode.NO_FILE, "No file in upload request: send it as the 'file' variable (GraphQL multipart request)"
        )
    writer = HashingWriter(rt.storage.temp_path(".upload"), limit or rt.settings.upload_limit_bytes)
    try:
        while chunk := await _read(file, CHUNK_BYTES):
            writer.write(chunk)  # over the limit: file_too_large, partial file removed
    except DxglError:
        raise
    except BaseException:
        writer.abort()
        raise
    finally:
        close = getattr(file, "close", None)
        if close is not None:
            result = close()
            if inspect.isawaitable(result):
                await result
    upload = writer.finish(getattr(file, "filename", None) or "model.glb")
    if upload.size == 0:
        upload.discard()
        raise DxglError(ErrorCode.INVALID_FORMAT, "The uploaded file is empty")
    return upload
