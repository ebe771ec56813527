"""graphql-transport-ws sockets follow their credentials.

A socket that has authenticated (at ``connection_init``, or at its first operation) re-checks its
token before every operation (each ``subscribe`` message: queries and mutations too) and every
``DXGL_WS_RECHECK_SECONDS`` while it is open. When the token is revoked, unknown or expired the
socket is closed with **4401**; when the account is suspended, with **4403**. The operation that
found out is not run. Each check is one primary-key query (``services.auth.check_caller``).

A socket authenticated by the portal's session cookie (docs/portal.md) is followed the same way:
each check re-reads the session (``services.sessions.check_session``), so a signed-out, revoked,
idle-expired or too old session closes it with **4401** (a suspended account with 4403). Such a
socket must also come from the service's origin: another ``Origin`` (or none) is closed with
**4403** at ``connection_init`` (``DxglGraphQL.on_ws_connect``), and ``connection_init`` carries the
session's CSRF token as ``{"csrfToken": "..."}``.

A socket that never authenticated (no token, or a bad one from the start) keeps the documented
behaviour: each operation is answered with its error (``unauthorized``...), the socket stays open.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from typing import Any

from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler

from dxgl.contract import ErrorCode
from dxgl.errors import DxglError

log = logging.getLogger(__name__)

CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403


def close_code(error: DxglError) -> int:
    """4401 for a token that no longer holds (revoked, unknown, expired), 4403 otherwise (suspended)."""
    return CLOSE_UNAUTHORIZED if error.code in (ErrorCode.UNAUTHORIZED, ErrorCode.TOKEN_EXPIRED) else CLOSE_FORBIDDEN


class CredentialCheckingHandler(BaseGraphQLTransportWSHandler[Any, Any]):
    _recheck_task: asyncio.Task[None] | None = None
    _closed_for_credentials = False

    def on_request_accepted(self) -> None:
        super().on_request_accepted()
        interval = float(self.context.runtime.settings.ws_recheck_seconds)
        if interval > 0:
            self._recheck_task = asyncio.create_task(self._recheck_every(interval))

    async def shutdown(self) -> None:
        if self._recheck_task is not None:
            self._recheck_task.cancel()
            with suppress(asyncio.CancelledError, Exception):
                await self._recheck_task
        await super().shutdown()

    async def handle_subscribe(self, message: Any) -> None:
        if self._closed_for_credentials:
            return
        if self.connection_acknowledged and not await self._credentials_hold():
            return  # closed: this operation is not run
        await super().handle_subscribe(message)

    async def _credentials_hold(self) -> bool:
        try:
            await self.context.recheck()
        except DxglError as error:
            if not self._closed_for_credentials:
                self._closed_for_credentials = True
                for operation_id in list(self.operations):
                    await self.cleanup_operation(operation_id)
                with suppress(Exception):
                    await self.websocket.close(code=close_code(error), reason=error.message[:120])
            return False
        return True

    async def _recheck_every(self, interval: float) -> None:
        while not self._closed_for_credentials:
            await asyncio.sleep(interval)
            try:
                await self._credentials_hold()
            except Exception:
                # The database did not answer: keep the socket, try again at the next tick.
                log.warning("websocket credential re-check failed; retrying in %.1f s", interval, exc_info=True)
