"""Per-request (HTTP) or per-connection (websocket) GraphQL context: the runtime, the caller's
credentials, the authenticated caller (looked up once, and re-checked on a websocket) and the
dataloaders."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from dxgl.errors import DxglError
from dxgl.events import EventBus
from dxgl.runtime import Runtime
from dxgl.schema.loaders import Loaders, make_loaders
from dxgl.services.auth import Caller, authenticate, check_caller


@dataclass
class DxglContext:
    runtime: Runtime
    # The ``Authorization`` header value: from the HTTP request, the websocket upgrade request, or
    # the graphql-transport-ws ``connection_init`` payload (which wins).
    authorization: str | None
    long_lived: bool = False
    # Why this request cannot authenticate at all (two Authorization headers), raised by caller().
    refused: DxglError | None = None
    # Set by Strawberry from connection_init on websockets.
    connection_params: dict[str, Any] | None = None
    loaders: Loaders = field(init=False)
    _caller: Caller | None = field(default=None, init=False)
    _auth_lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)

    def __post_init__(self) -> None:
        # A websocket context lives as long as the connection: its loaders batch but do not cache,
        # so an event's nested fields are never served from an old read.
        self.loaders = make_loaders(self.caller, self.unit_of_work, cache=not self.long_lived)

    @property
    def events(self) -> EventBus:
        return self.runtime.events

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[AsyncSession]:
        async with self.runtime.unit_of_work() as session:
            yield session

    async def caller(self) -> Caller:
        """The authenticated caller, looked up once per request (or websocket connection).
        A failure is not cached: the next field raises the same documented error."""
        if self._caller is not None:
            return self._caller
        if self.refused is not None:
            raise self.refused
        async with self._auth_lock:
            if self._caller is None:
                async with self.runtime.unit_of_work() as session:
                    self._caller = await authenticate(session, self.authorization)
            return self._caller

    @property
    def authenticated(self) -> bool:
        return self._caller is not None

    async def recheck(self) -> None:
        """Long-lived (websocket) contexts: does the caller authenticated before still hold? Raises
        the documented ``DxglError`` (revoked, expired, suspended) and forgets the caller, so nothing
        runs as it any more. One primary-key query (``services.auth.check_caller``); nothing when
        no caller was authenticated yet."""
        caller = self._caller
        if caller is None:
            return
        try:
            async with self.runtime.unit_of_work() as session:
                await check_caller(session, caller)
        except DxglError:
            self._caller = None
            raise

    def accept_connection_params(self, params: dict[str, Any] | None) -> None:
        """graphql-transport-ws ``connection_init``: ``{"Authorization": "Bearer ..."}``."""
        if not params:
            return
        for key, value in params.items():
            if isinstance(key, str) and key.lower() == "authorization" and isinstance(value, str):
                self.authorization = value
                self._caller = None
