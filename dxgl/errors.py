"""The one exception type for failures a client can act on: it carries an ``ErrorCode``
(``dxgl.contract``), and with it the HTTP status and default message. Services raise it; the REST
and GraphQL adapters only translate it (the envelope, ``extensions.code``)."""

from __future__ import annotations

from typing import Any

from dxgl.contract import ErrorCode


class DxglError(Exception):
    """A documented error code, its HTTP status and a message meant for the client."""

    def __init__(self, code: ErrorCode | str, message: str | None = None, *, headers: dict[str, str] | None = None):
        # An unknown code is refused: every code a client can see is in the contract.
        self.code = code if isinstance(code, ErrorCode) else ErrorCode.of(code)
        self.status = self.code.status
        self.message = message or self.code.default_message
        self.headers = headers or {}
        super().__init__(f"{self.code}: {self.message}")

    def envelope(self) -> dict[str, Any]:
        return {"error": {"code": str(self.code), "message": self.message, "status": self.status}}
