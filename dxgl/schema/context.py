"""Per-request (HTTP) or per-connection (websocket) GraphQL context: the runtime, the caller's
credentials, the authenticated caller (looked up once, and re-checked on a websocket) and the
dataloaders.

Credentials: a Bearer token (``Authorization`` header, or the websocket's ``connection_init``
payload) works as it always has, and a portal session cookie beside it is ignored. Without one, the
``dxgl_session`` cookie authenticates as the session's account with every scope, only with the
session's CSRF token (the ``X-DXGL-CSRF`` header; ``{"csrfToken"}`` in ``connection_init``) and an
``Origin`` equal to the service's (docs/portal.md; the rule is ``services.sessions``).

Rate limits (``services.rate_limit``): an HTTP request takes one from its caller's bucket when
the caller is first needed (once per request, however many fields); a refusal is raised by every
field that asks for the caller. Uploads and URL ingest also take one from the uploads bucket
(:meth:`DxglContext.limit_uploads`). A websocket's operations are not counted yet.
``idempotent`` runs a creating mutation once per ``idempotencyKey`` (``services.idempotency``)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from dxgl.errors import DxglError
from dxgl.events import EventBus
from dxgl.runtime import Runtime
from dxgl.schema.loaders import Loaders, make_loaders
from dxgl.services import idempotency, rate_limit, sessions
from dxgl.services.auth import Caller, authenticate, check_caller
from dxgl.services.rate_limit import Bucket


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
    # The portal session cookie (the credential only when no Bearer token comes: uses_session_cookie),
    # the request's Origin header and the origin it must equal; the CSRF token from connection_init.
    session_cookie: str | None = None
    origin: str | None = None
    expected_origin: str = ""
    csrf_token: str | None = None
    loaders: Loaders = field(init=False)
    _caller: Caller | None = field(default=None, init=False)
    _auth_lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)
    # The rate limit was applied to this request (``_limited``), and refused it (``_limit_error``).
    _limited: bool = field(default=False, init=False)
    _limit_error: DxglError | None = field(default=None, init=False)

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
        """The authenticated caller, looked up once per request (or websocket connection), within
        its rate limit. A failure to authenticate is not cached: the next field raises the same
        documented error; a rate-limit refusal is (the request was refused as a whole)."""
        if self._limit_error is not None:
            raise self._limit_error
        if self._caller is not None and (self._limited or self.long_lived):
            return self._caller
        if self._caller is None and self.refused is not None:
            raise self.refused
        async with self._auth_lock:
            if self._caller is None:
                async with self.runtime.unit_of_work() as session:
                    self._caller = await authenticate(session, self.authorization)
            if not self._limited and not self.long_lived:
                self._limited = True
                try:
                    await self.limiter.check(self._caller)
                except DxglError as err:
                    self._limit_error = err
                    raise
            return self._caller

    @property
    def limiter(self) -> rate_limit.RateLimiter:
        """This process's limiter (one per Runtime, shared with REST)."""
        return rate_limit.limiter_for(self.runtime, self.runtime.settings)

    async def limit_uploads(self, caller: Caller) -> None:
        """An upload or URL ingest also takes one from the stricter uploads bucket."""
        await self.limiter.check(caller, Bucket.UPLOADS)

    async def idempotent(
        self,
        key: str | None,
        operation: str,
        arguments: dict[str, Any],
        work: Callable[[AsyncSession], Awaitable[Any]],
    ) -> Any:
        """Run ``work`` (a mutation's unit of work, returning a JSON value) once per ``key``
        (``idempotencyKey``; None: just run it). The fingerprint is the mutation's name and its
        arguments; a replay returns the first run's JSON value."""
        key = idempotency.validate_key(key)
        caller = await self.caller()
        if key is None:
            async with self.unit_of_work() as session:
                return await work(session)
        request_hash = idempotency.fingerprint("graphql", operation, idempotency.canonical_json(arguments))
        outcome = await idempotency.run_once(
            self.runtime.unit_of_work,
            account_id=caller.account_id,
            key=key,
            request_hash=request_hash,
            work=work,
            record=lambda value: idempotency.Replay(200, json.dumps(value)),
        )
        return json.loads(outcome.body) if isinstance(outcome, idempotency.Replay) else outcome

    async def authenticate_session(self, csrf: str | None) -> Caller:
        """Authenticate by the session cookie now (``services.sessions.authenticate_cookie``: Origin,
        live session, CSRF token); raises its ``DxglError``."""
        async with self.runtime.unit_of_work() as session:
            info = await sessions.authenticate_cookie(
                session,
                cookie=self.session_cookie,
                origin=self.origin,
                expected=self.expected_origin,
                csrf=csrf,
                require_csrf=True,
                idle_seconds=self.runtime.settings.session_idle_seconds,
            )
        self._caller = info.caller
        return self._caller

    @property
    def uses_session_cookie(self) -> bool:
        """No Bearer token anywhere, and a session cookie: the cookie is the credential."""
        return not self.authorization and self.refused is None and bool(self.session_cookie)

    @property
    def authenticated(self) -> bool:
        return self._caller is not None

    async def recheck(self) -> None:
        """Long-lived (websocket) contexts: does the caller authenticated before still hold? Raises
        the documented ``DxglError`` (revoked, expired, suspended) and forgets the caller, so nothing
        runs as it any more. One primary-key query (``services.auth.check_caller``, or for a portal
        session ``services.sessions.check_session``); nothing when no caller was authenticated yet."""
        caller = self._caller
        if caller is None:
            return
        try:
            async with self.runtime.unit_of_work() as session:
                if caller.portal_session:
                    await sessions.check_session(
                        session, caller.token_id, idle_seconds=self.runtime.settings.session_idle_seconds
                    )
                else:
                    await check_caller(session, caller)
        except DxglError:
            self._caller = None
            raise

    def accept_connection_params(self, params: dict[str, Any] | None) -> None:
        """graphql-transport-ws ``connection_init``: ``{"Authorization": "Bearer ..."}``, or with the
        session cookie ``{"csrfToken": "..."}``."""
        if not params:
            return
        for key, value in params.items():
            if isinstance(key, str) and key.lower() == "authorization" and isinstance(value, str):
                self.authorization = value
                self._caller = None
            elif key == sessions.CSRF_PARAM and isinstance(value, str):
                self.csrf_token = value
