"""Streaming multipart/form-data reader for uploads.

The ``file`` part goes straight to a temporary file in storage's scratch folder and, on an object
store, on into a multipart upload, while its SHA-256 and size are computed
(``services.uploads.StreamingUpload``); it is never held whole in memory, and the size limit is
enforced while reading (the partial file is removed and the multipart upload aborted). Other fields
are small text fields, capped at 64 KB each. The limit may depend on the fields sent before the
file (an overlay's ``layer``): ``limit`` is then a function of those fields.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from dxgl.contract import ErrorCode
from dxgl.errors import DxglError
from dxgl.services.uploads import StreamingUpload, UploadedFile
from dxgl.storage import Storage

MAX_FIELD_BYTES = 64 * 1024
MAX_PARTS = 16
MAX_BOUNDARY = 70  # RFC 2046 section 5.1.1: 1 to 70 characters


@dataclass
class MultipartForm:
    file: UploadedFile | None = None
    fields: dict[str, str] = field(default_factory=dict)


Limit = int | Callable[[dict[str, str]], int]


class _Collector:
    def __init__(self, storage: Storage, limit: Limit, file_field: str) -> None:
        self.storage = storage
        self.limit = limit
        self.file_field = file_field
        self.form = MultipartForm()
        self.parts = 0
        self._header_name = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._writer: StreamingUpload | None = None
        self._ended: StreamingUpload | None = None  # the file part ended: finished by settle()
        self._filename = ""
        self._field: str | None = None
        self._buffer = bytearray()
        self.error: DxglError | None = None

    # python-multipart callbacks -------------------------------------------------------------
    def on_part_begin(self) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise DxglError(ErrorCode.INVALID_REQUEST, f"at most {MAX_PARTS} form fields")
        self._headers = {}
        self._field = None
        self._writer = None
        self._buffer = bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[self._header_name.strip().lower()] = self._header_value.strip()
        self._header_name = b""
        self._header_value = b""

    def on_headers_finished(self) -> None:
        _, params = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = params.get(b"name", b"").decode("utf-8", "replace")
        if name == self.file_field and b"filename" in params:
            if self.form.file is not None or self._ended is not None:
                raise DxglError(ErrorCode.INVALID_REQUEST, f"send one {self.file_field} per request")
            self._filename = params[b"filename"].decode("utf-8", "replace")
            limit = self.limit(self.form.fields) if callable(self.limit) else self.limit
            self._writer = StreamingUpload(self.storage, limit)
        else:
            self._field = name

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._writer is not None:
            self._writer.write(data[start:end])
        elif self._field is not None:
            self._buffer.extend(data[start:end])
            if len(self._buffer) > MAX_FIELD_BYTES:
                raise DxglError(ErrorCode.INVALID_REQUEST, f"form field {self._field!r} is larger than 64 KB")

    def on_part_end(self) -> None:
        if self._writer is not None:
            self._ended, self._writer = self._writer, None
        elif self._field is not None:
            self.form.fields[self._field] = self._buffer.decode("utf-8", "replace")

    async def settle(self) -> None:
        """After each chunk parsed: hand the file's new bytes to the store; finish an ended file."""
        if self._writer is not None:
            await self._writer.drain()
        if self._ended is not None:
            ended, self._ended = self._ended, None
            self.form.file = await ended.finish(self._filename)

    async def abort(self) -> None:
        for writer in (self._writer, self._ended):
            if writer is not None:
                await writer.abort()
        self._writer = self._ended = None
        if self.form.file is not None:
            await self.form.file.release()


async def _chunks(request: Request, idle_timeout_s: float) -> AsyncIterator[bytes]:
    """The body's chunks; a pause longer than ``idle_timeout_s`` between two is 408 ``timeout``
    (an upload may take long, but may not stall)."""
    stream = request.stream().__aiter__()
    while True:
        try:
            async with asyncio.timeout(idle_timeout_s):
                chunk = await anext(stream)
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise DxglError(ErrorCode.TIMEOUT, f"The upload stalled: no data for {idle_timeout_s:g} s") from None
        yield chunk


async def read_multipart(
    request: Request, storage: Storage, *, limit: Limit, idle_timeout_s: float, file_field: str = "file"
) -> MultipartForm:
    """Parse the request body; the caller owns (and must discard) ``form.file``. ``limit``: the
    file's byte limit, or a function of the fields that came before the file giving it."""
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data" or not params.get(b"boundary"):
        raise DxglError(ErrorCode.NO_FILE, "Send the file as multipart/form-data in a field named 'file'")
    if len(params[b"boundary"]) > MAX_BOUNDARY:
        raise DxglError(
            ErrorCode.INVALID_REQUEST, f"The multipart boundary is longer than {MAX_BOUNDARY} characters (RFC 2046)"
        )
    collector = _Collector(storage, limit, file_field)
    callbacks = {name: getattr(collector, name) for name in dir(collector) if name.startswith("on_")}
    parser = MultipartParser(params[b"boundary"], callbacks)  # type: ignore[arg-type]
    try:
        async for chunk in _chunks(request, idle_timeout_s):
            parser.write(chunk)
            await collector.settle()
        parser.finalize()
        await collector.settle()
    except DxglError:
        await collector.abort()
        raise
    except BaseException as err:
        await collector.abort()
        if not isinstance(err, Exception):
            raise  # cancelled (the client went away): cleaned up, not answered
        raise DxglError(ErrorCode.INVALID_REQUEST, "Malformed multipart body") from None
    if collector._writer is not None:  # body ended inside the file part
        await collector.abort()
        raise DxglError(ErrorCode.INVALID_REQUEST, "Multipart body ended before the file did")
    return collector.form
