"""The MCP tools' one way into dxgl: an HTTP client of the REST API ``/v1`` (docs/mcp.md).

Both transports use it. ``dxgl mcp`` (stdio) talks to ``DXGL_API_URL`` over the network; ``/mcp``
calls the same app in process (``httpx.ASGITransport``). Either way every tool call is a REST
request with the caller's own token, so authentication, scopes, tenancy, credits, rate limits and
idempotency are exactly those of REST: nothing here re-implements a rule.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx

from dxgl.contract import ErrorCode

# Uploads and URL ingest are parsed before the answer comes (the ingest alone may take 2 minutes).
TIMEOUT = httpx.Timeout(600.0, connect=10.0)


class ApiError(Exception):
    """A REST error: ``envelope`` is the documented ``{"error": {"code", "message", "status"}}``."""

    def __init__(self, envelope: dict[str, Any]) -> None:
        self.envelope = envelope
        error = envelope["error"]
        super().__init__(f"{error['code']}: {error['message']}")

    @classmethod
    def of(cls, code: ErrorCode, message: str | None = None) -> ApiError:
        return cls({"error": {"code": str(code), "message": message or code.default_message, "status": code.status}})

    @property
    def code(self) -> str:
        return str(self.envelope["error"]["code"])


def _error_of(response: httpx.Response) -> ApiError:
    """The envelope the service answered; a body that is not one (a proxy's page) becomes a
    documented code for its status, so a tool error always carries a code."""
    try:
        body = response.json()
        if isinstance(body, dict) and isinstance(body.get("error"), dict) and "code" in body["error"]:
            return ApiError(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        pass
    code = ErrorCode.SERVICE_UNAVAILABLE if response.status_code in (502, 503, 504) else ErrorCode.INTERNAL
    return ApiError.of(code, f"The service answered {response.status_code} without an error envelope")


@dataclass
class Api:
    """One caller's view of the service. ``client`` has the base URL (the service root, ``/v1``
    included in every path) and the caller's ``Authorization`` header; ``public_url`` is where the
    caller itself reaches the service, for the asset links tools hand out."""

    client: httpx.AsyncClient
    public_url: str

    async def call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """The JSON body of a 2xx answer (``{"data": ...}``, with ``meta`` for lists), else ApiError."""
        try:
            response = await self.client.request(method, path, **kwargs)
        except httpx.TimeoutException:
            raise ApiError.of(ErrorCode.SERVICE_UNAVAILABLE, f"DXGL did not answer {method} {path} in time") from None
        except httpx.TransportError as error:
            raise ApiError.of(
                ErrorCode.SERVICE_UNAVAILABLE, f"Could not reach DXGL at {self.public_url}: {error}"
            ) from None
        if response.status_code >= 400:
            raise _error_of(response)
        body = response.json()
        assert isinstance(body, dict)
        return body

    async def data(self, method: str, path: str, **kwargs: Any) -> Any:
        return (await self.call(method, path, **kwargs))["data"]

    def link(self, path: str) -> str:
        return self.public_url.rstrip("/") + path
