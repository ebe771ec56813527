"""``/mcp``: the MCP server over streamable HTTP inside the API process (docs/mcp.md).

Every request needs a valid Bearer token (checked here, before the SDK reads the body; a refusal
is the REST 401 envelope). Each tool call then makes its REST calls in process, through
``httpx.ASGITransport`` over the whole app, with the ``Authorization`` header of the request that
carried the call: the token is authenticated again and its scopes and account apply exactly as for
REST, so a token revoked in the middle of a session stops working at once. The tools never read
the server's own files (``local_files=False``).

Stateless streamable HTTP: no session lives in one process's memory, so any API replica answers
any request; a call's progress notifications travel on that call's own SSE response.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from mcp.server.mcpserver import Context
from mcp.server.transport_security import TransportSecuritySettings
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from dxgl.contract import ErrorCode
from dxgl.errors import DxglError
from dxgl.mcp.api import TIMEOUT, Api, ApiError
from dxgl.mcp.tools import build_server
from dxgl.runtime import Runtime
from dxgl.services.auth import authenticate, single_authorization


class _WithState:
    """The lifespan state (the runtime) for in-process requests, as the ASGI server gives it to
    every request it serves (httpx's transport does not)."""

    def __init__(self, app: ASGIApp, state: dict[str, Any]) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app({**scope, "state": dict(self.state)}, receive, send)


class McpEndpoint:
    """The ASGI app of ``/mcp``. ``api()`` is the app whose ``/v1`` the tools call (the whole
    app, so its middleware applies too); ``running()`` belongs in the app's lifespan."""

    def __init__(self, api: Callable[[], ASGIApp]) -> None:
        self.api = api
        self.server = build_server(self._connect, local_files=False)
        # No DNS-rebinding check (the SDK's default for a localhost host): it guards cookie- or
        # network-trusted servers, and /mcp trusts only the Bearer token, which a rebinding page
        # cannot send. Host and Origin checks would also refuse every deployment behind a name.
        self.server.streamable_http_app(
            stateless_http=True,
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        self.manager = self.server.session_manager

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Run the SDK's session manager (the task group /mcp requests are served in) for as long as
        this block lasts. It lives in a task of its own: its task group must be left in the task that
        entered it, and a lifespan may be entered and left in different tasks (a test fixture's
        setup and teardown are)."""
        started, stop = asyncio.Event(), asyncio.Event()

        async def serve() -> None:
            async with self.manager.run():
                started.set()
                await stop.wait()

        task = asyncio.create_task(serve(), name="dxgl-mcp-sessions")
        waiting = asyncio.create_task(started.wait())
        await asyncio.wait({task, waiting}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():  # it failed to start: say why
            waiting.cancel()
            task.result()
        try:
            yield
        finally:
            stop.set()
            await task

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope)
        try:
            authorization = single_authorization(request.headers.getlist("authorization"))
            runtime = scope["state"]["runtime"]
            assert isinstance(runtime, Runtime)
            async with runtime.unit_of_work() as session:
                await authenticate(session, authorization)
        except DxglError as error:
            headers = {"WWW-Authenticate": 'Bearer realm="dxgl"', **error.headers}
            await JSONResponse(error.envelope(), status_code=error.status, headers=headers)(scope, receive, send)
            return
        await self.manager.handle_request(scope, receive, send)

    @asynccontextmanager
    async def _connect(self, ctx: Context) -> AsyncIterator[Api]:
        request = ctx.request_context.request
        if not isinstance(request, Request):  # every call arrives on an HTTP request here
            raise ApiError.of(ErrorCode.UNAUTHORIZED)
        # Asset links: the address browsers and agents use (DXGL_PUBLIC_URL, e.g. https behind a
        # proxy), else the one this request came to.
        runtime = request.scope.get("state", {}).get("runtime")
        configured = runtime.settings.public_url if isinstance(runtime, Runtime) else ""
        public_url = configured.rstrip("/") or f"{request.url.scheme}://{request.url.netloc}"
        transport = httpx.ASGITransport(
            app=_WithState(self.api(), request.scope.get("state", {})), raise_app_exceptions=False
        )
        headers = {"Authorization": request.headers.get("authorization", "")}
        async with httpx.AsyncClient(
            transport=transport, base_url=public_url, headers=headers, timeout=TIMEOUT
        ) as client:
            yield Api(client, public_url)
