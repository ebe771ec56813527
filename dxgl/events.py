"""Render status events: who publishes them (the render worker, after its commit) and who listens
(GraphQL subscriptions). No GraphQL here: an event is the Render's API JSON (``render_event``).

Two buses with one interface:
- ``InProcessEventBus``: the embedded default; publisher and subscribers share one process.
- ``RedisEventBus``: Redis pub/sub, one channel per account (``dxgl:renders:{account_id}``), so a
  worker process publishes and every API replica's subscribers hear it.

Tenancy is structural: a subscriber names its account and only ever receives that account's channel.
The bus is a notification path, not a source of truth: a subscriber reads the current state from the
database first (events may be lost while nobody listens, and that is fine).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

from dxgl.timeutil import iso

if TYPE_CHECKING:
    from dxgl.config import Settings
    from dxgl.tables import Model3D, Render

log = logging.getLogger(__name__)

# Events a slow subscriber may fall behind by before the oldest ones are dropped (statuses only
# move forward, so the newest event matters most).
MAX_BACKLOG = 1000
CHANNEL_PREFIX = "dxgl:renders:"


def model_event(model: Model3D) -> dict[str, Any]:
    """The REST JSON of a model (``GET /v1/models`` items; also the ``model.created`` webhook's
    data): the documented fields, and (dxgl's extension, docs/api.md) ``broken`` /
    ``brokenReason``: the system preview could not load or draw the file."""
    return {
        "id": model.id,
        "originalName": model.original_name,
        "title": model.title,
        "sku": model.sku,
        "tags": list(model.tags),
        "fileSize": model.file_size,
        "sha256": model.sha256,
        "createdAt": iso(model.created_at),
        "broken": model.broken_reason is not None,
        "brokenReason": model.broken_reason,
    }


def render_event(render: Render) -> dict[str, Any]:
    """The event payload of a render: the fields of ``GET /v1/renders/{id}`` (camelCase), and
    ``isSystemPreview`` (dxgl's extension: the free preview every upload makes). Previews' events go
    to the live status bus like every render's; webhooks, when they arrive, leave previews out."""
    return {
        "id": render.id,
        "modelId": render.model_id,
        "status": render.status,
        "renderSettings": render.settings,
        "fileSize": render.file_size,
        "errorMessage": render.error_message,
        "hasWebVariant": render.has_web_variant,
        "isSystemPreview": bool(render.is_system_preview),
        "createdAt": iso(render.created_at),
        "updatedAt": iso(render.updated_at),
    }


def channel_of(account_id: str) -> str:
    return CHANNEL_PREFIX + account_id


class EventSubscription(Protocol):
    """What ``subscribe`` returns: an async iterator of render dicts. ``async with`` it to be sure
    it is registered (no event published after ``__aenter__`` returns is missed)."""

    async def __aenter__(self) -> EventSubscription: ...
    async def __aexit__(self, *exc: object) -> None: ...
    def __aiter__(self) -> AsyncIterator[dict[str, Any]]: ...
    async def __anext__(self) -> dict[str, Any]: ...


class EventBus(Protocol):
    async def publish(self, account_id: str, render: dict[str, Any]) -> None: ...
    def subscribe(self, account_id: str, render_id: str | None = None) -> EventSubscription: ...
    async def close(self) -> None: ...


class _Listener:
    """One subscriber's queue, bound to the event loop it reads on (publishers may be elsewhere)."""

    def __init__(self, render_id: str | None) -> None:
        self.render_id = render_id
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    def offer(self, render: dict[str, Any]) -> None:
        if self.render_id is not None and render.get("id") != self.render_id:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            self._put(render)
        else:
            self.loop.call_soon_threadsafe(self._put, render)

    def _put(self, render: dict[str, Any]) -> None:
        if self.queue.qsize() >= MAX_BACKLOG:
            self.queue.get_nowait()
            log.warning("render events: a subscriber fell %d events behind; dropped the oldest", MAX_BACKLOG)
        self.queue.put_nowait(render)


class _Fanout:
    """Local subscribers per account. Thread-safe registration; delivery through each listener's loop."""

    def __init__(self) -> None:
        self._listeners: dict[str, set[_Listener]] = {}

    def add(self, account_id: str, listener: _Listener) -> bool:
        """Returns True when this is the account's first listener."""
        group = self._listeners.setdefault(account_id, set())
        group.add(listener)
        return len(group) == 1

    def remove(self, account_id: str, listener: _Listener) -> bool:
        """Returns True when the account has no listener left."""
        group = self._listeners.get(account_id)
        if group is None:
            return False
        group.discard(listener)
        if not group:
            del self._listeners[account_id]
            return True
        return False

    def deliver(self, account_id: str, render: dict[str, Any]) -> None:
        for listener in list(self._listeners.get(account_id, ())):
            listener.offer(render)


class _Subscription:
    """An ``EventSubscription`` over a bus's register/unregister hooks."""

    def __init__(
        self,
        account_id: str,
        render_id: str | None,
        register: Callable[[str, _Listener], Awaitable[None]],
        unregister: Callable[[str, _Listener], Awaitable[None]],
    ) -> None:
        self.account_id = account_id
        self.render_id = render_id
        self._register = register
        self._unregister = unregister
        self._listener: _Listener | None = None
        self._closed = False

    async def __aenter__(self) -> _Subscription:
        await self._open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _open(self) -> _Listener:
        if self._closed:
            raise StopAsyncIteration
        if self._listener is None:
            listener = _Listener(self.render_id)
            await self._register(self.account_id, listener)
            self._listener = listener
        return self._listener

    def __aiter__(self) -> _Subscription:
        return self

    async def __anext__(self) -> dict[str, Any]:
        listener = await self._open()
        return await listener.queue.get()

    async def aclose(self) -> None:
        if self._listener is not None and not self._closed:
            self._closed = True
            await self._unregister(self.account_id, self._listener)
        self._closed = True


class InProcessEventBus:
    """Publisher and subscribers in one process (the embedded runner). ``publish`` may be called
    from any thread; each subscriber receives on its own event loop."""

    def __init__(self) -> None:
        self._fanout = _Fanout()

    async def publish(self, account_id: str, render: dict[str, Any]) -> None:
        self._fanout.deliver(account_id, render)

    def subscribe(self, account_id: str, render_id: str | None = None) -> _Subscription:
        return _Subscription(account_id, render_id, self._register, self._unregister)

    async def _register(self, account_id: str, listener: _Listener) -> None:
        self._fanout.add(account_id, listener)

    async def _unregister(self, account_id: str, listener: _Listener) -> None:
        self._fanout.remove(account_id, listener)

    async def close(self) -> None:
        return None


class RedisEventBus:
    """Redis pub/sub, one channel per account. One pub/sub connection per process serves all its
    subscribers: a channel is subscribed while the process has at least one listener for it."""

    def __init__(self, redis_url: str) -> None:
        import redis.asyncio as aioredis

        self._redis = aioredis.from_url(redis_url)
        self._pubsub = self._redis.pubsub()
        self._fanout = _Fanout()
        self._lock = asyncio.Lock()
        self._confirmed: dict[str, asyncio.Event] = {}
        self._reader: asyncio.Task[None] | None = None

    async def publish(self, account_id: str, render: dict[str, Any]) -> None:
        await self._redis.publish(channel_of(account_id), json.dumps(render))

    def subscribe(self, account_id: str, render_id: str | None = None) -> _Subscription:
        return _Subscription(account_id, render_id, self._register, self._unregister)

    async def _register(self, account_id: str, listener: _Listener) -> None:
        async with self._lock:
            if not self._fanout.add(account_id, listener):
                return
            channel = channel_of(account_id)
            confirmed = self._confirmed[channel] = asyncio.Event()
            try:
                await self._pubsub.subscribe(channel)
                if self._reader is None or self._reader.done():
                    self._reader = asyncio.create_task(self._read(), name="dxgl-render-events")
                # Wait for Redis to confirm, so nothing published from now on can be missed.
                await asyncio.wait_for(confirmed.wait(), timeout=10)
            except BaseException:
                self._fanout.remove(account_id, listener)
                self._confirmed.pop(channel, None)
                raise

    async def _unregister(self, account_id: str, listener: _Listener) -> None:
        async with self._lock:
            if self._fanout.remove(account_id, listener):
                channel = channel_of(account_id)
                self._confirmed.pop(channel, None)
                with contextlib.suppress(Exception):
                    await self._pubsub.unsubscribe(channel)

    async def _read(self) -> None:
        while True:
            try:
                message = await self._pubsub.get_message(ignore_subscribe_messages=False, timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("render events: reading from Redis failed; retrying")
                await asyncio.sleep(1.0)
                continue
            if message is None:
                continue
            channel = _text(message.get("channel"))
            if message["type"] == "subscribe":
                if channel in self._confirmed:
                    self._confirmed[channel].set()
            elif message["type"] == "message" and channel.startswith(CHANNEL_PREFIX):
                try:
                    render = json.loads(message["data"])
                except ValueError:
                    log.warning("render events: ignored a malformed event on %s", channel)
                    continue
                self._fanout.deliver(channel[len(CHANNEL_PREFIX) :], render)

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
            self._reader = None
        with contextlib.suppress(Exception):
            await self._pubsub.aclose()
        await self._redis.aclose()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value or "")


def make_event_bus(settings: Settings) -> EventBus:
    """Redis pub/sub when ``DXGL_REDIS_URL`` is set, otherwise in-process (the embedded default)."""
    if settings.redis_url:
        return RedisEventBus(settings.redis_url)
    return InProcessEventBus()
