"""The GraphQL multipart request's file, copied chunk by chunk into storage's scratch folder (and,
on an object store, into a multipart upload) with its SHA-256 and size computed on the way
(``StreamingUpload`` enforces the upload limit)."""

from __future__ import annotations

import inspect
from typing import Any

from dxgl.contract import ErrorCode
from dxgl.errors import DxglError
from dxgl.services.uploads import StreamingUpload, UploadedFile
from dxgl.storage import Storage

CHUNK_BYTES = 1024 * 1024


async def _read(file: Any, size: int) -> bytes:
    chunk = file.read(size)
    return await chunk if inspect.isawaitable(chunk) else chunk


async def receive_upload(storage: Storage, file: Any, *, limit: int) -> UploadedFile:
    """``file`` is Starlette's UploadFile (anything with ``read(n)`` works). The caller owns the
    returned temporary file (the upload services consume it, and refuse an empty one)."""
    if file is None or not hasattr(file, "read"):
        raise DxglError(
            ErrorCode.NO_FILE, "No file in upload request: send it as the 'file' variable (GraphQL multipart request)"
        )
    writer = StreamingUpload(storage, limit)
    try:
        while chunk := await _read(file, CHUNK_BYTES):
            writer.write(chunk)  # over the limit: file_too_large, partial file removed
            await writer.drain()
        return await writer.finish(getattr(file, "filename", None) or "model.glb")
    except BaseException:
        await writer.abort()  # the multipart upload too: no part is left in the store
        raise
    finally:
        close = getattr(file, "close", None)
        if close is not None:
            result = close()
            if inspect.isawaitable(result):
                await result
