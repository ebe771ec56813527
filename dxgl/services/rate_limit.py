"""Rate limits (docs/api.md, "Rate limits"): a token bucket per API token (per account for portal
sessions), and a stricter one for uploads and URL ingest.

A bucket holds at most ``burst`` tokens and refills at ``rate`` tokens per second; each request
takes one, and a request that finds less than one is refused with 429 ``rate_limited``,
``Retry-After`` and the ``RateLimit-*`` headers. On the embedded default the buckets live in this
process; with ``DXGL_REDIS_URL`` they live in Redis, updated by one Lua script (read, refill, take,
write in one atomic step, on Redis's clock), so every API process shares them.

The limiter is per process: :func:`limiter_for` caches one per owner (the Runtime the adapters
hold), so services still never take the runtime.
"""

from __future__ import annotations

import asyncio
import math
import time
import weakref
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from dxgl.config import Settings
from dxgl.contract import ErrorCode
from dxgl.errors import DxglError
from dxgl.services.auth import Caller

# Every this many requests, forget the in-process buckets that are full again (as a fresh one is).
_PRUNE_EVERY = 1024
REDIS_PREFIX = "dxgl:ratelimit:"


class Bucket(StrEnum):
    """Which bucket a request draws from: every authenticated request takes one from ``REQUESTS``;
    uploads and URL ingest also take one from ``UPLOADS``."""

    REQUESTS = "requests"
    UPLOADS = "uploads"


@dataclass(frozen=True)
class Policy:
    rate: float  # tokens per second
    burst: int  # bucket size

    @property
    def enabled(self) -> bool:
        return self.rate > 0 and self.burst > 0


def policies(settings: Settings) -> dict[Bucket, Policy]:
    """The buckets of these settings: ``DXGL_RATE_LIMIT_RPS`` / ``DXGL_RATE_LIMIT_BURST`` (0 turns
    it off), and ``DXGL_RATE_LIMIT_UPLOADS_PER_MINUTE`` (a bucket of one minute's uploads)."""
    per_minute = settings.rate_limit_uploads_per_minute
    return {
        Bucket.REQUESTS: Policy(settings.rate_limit_rps, settings.rate_limit_burst),
        Bucket.UPLOADS: Policy(per_minute / 60.0, max(1, math.floor(per_minute)) if per_minute > 0 else 0),
    }


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_s: int  # seconds until the bucket is full again
    retry_after_s: int  # seconds until one more request is allowed (0 when allowed)

    def headers(self) -> dict[str, str]:
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_s),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after_s)
        return headers


def decide(policy: Policy, tokens_left: float, allowed: bool) -> Decision:
    """The decision and its headers from the bucket's level after this request."""
    missing = policy.burst - tokens_left
    return Decision(
        allowed=allowed,
        limit=policy.burst,
        remaining=max(0, math.floor(tokens_left)),
        reset_s=max(0, math.ceil(missing / policy.rate)),
        retry_after_s=0 if allowed else max(1, math.ceil((1.0 - tokens_left) / policy.rate)),
    )


class Store(Protocol):
    async def take(self, key: str, policy: Policy) -> tuple[bool, float]:
        """Refill the bucket ``key``, take one token if there is one; (taken, tokens left)."""
        ...

    async def close(self) -> None: ...


class LocalStore:
    """Buckets in this process (the embedded default). Single event loop: no lock needed."""

    def __init__(self) -> None:
        # key -> (tokens, monotonic time of that level, monotonic time it is full again)
        self._buckets: dict[str, tuple[float, float, float]] = {}
        self._calls = 0

    async def take(self, key: str, policy: Policy) -> tuple[bool, float]:
        now = time.monotonic()
        tokens, last, _ = self._buckets.get(key, (float(policy.burst), now, now))
        tokens = min(float(policy.burst), tokens + (now - last) * policy.rate)
        taken = tokens >= 1.0
        if taken:
            tokens -= 1.0
        self._buckets[key] = (tokens, now, now + (policy.burst - tokens) / policy.rate)
        self._calls += 1
        if self._calls % _PRUNE_EVERY == 0:
            self._prune(now)
        return taken, tokens

    def _prune(self, now: float) -> None:
        for key, (_, _, full_at) in list(self._buckets.items()):
            if now >= full_at:
                del self._buckets[key]

    async def close(self) -> None:
        return None


# KEYS[1] the bucket; ARGV rate, burst. Redis's own clock (TIME), so API processes on machines
# whose clocks differ still share one bucket. Returns {taken, tokens left as a string} (Lua numbers
# would be truncated to integers in the reply).
_TAKE_SCRIPT = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local taken = 0
if tokens >= 1 then
  tokens = tokens - 1
  taken = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {taken, tostring(tokens)}
"""


class RedisStore:
    """Buckets in Redis, shared by every API process (``DXGL_REDIS_URL``)."""

    def __init__(self, redis_url: str) -> None:
        import redis.asyncio as aioredis

        self._redis = aioredis.from_url(redis_url)  # type: ignore[no-untyped-call]
        self._script = self._redis.register_script(_TAKE_SCRIPT)

    async def take(self, key: str, policy: Policy) -> tuple[bool, float]:
        taken, tokens = await self._script(keys=[REDIS_PREFIX + key], args=[repr(policy.rate), policy.burst])
        return int(taken) == 1, float(tokens)

    async def close(self) -> None:
        await self._redis.aclose()


def bucket_key(caller: Caller, bucket: Bucket) -> str:
    """Per token; a portal session (whose ``token_id`` is the session's) counts per account, so
    signing in again does not give a fresh bucket."""
    who = f"account:{caller.account_id}" if caller.portal_session else f"token:{caller.token_id}"
    return f"{bucket}:{who}"


class RateLimiter:
    def __init__(self, settings: Settings) -> None:
        self.policies = policies(settings)
        self.store: Store = RedisStore(settings.redis_url) if settings.redis_url else LocalStore()

    async def check(self, caller: Caller, bucket: Bucket = Bucket.REQUESTS) -> Decision | None:
        """Take one token for ``caller`` from ``bucket``; raise 429 ``rate_limited`` (with the
        headers) when it is empty. None when that bucket is off."""
        policy = self.policies[bucket]
        if not policy.enabled:
            return None
        taken, left = await self.store.take(bucket_key(caller, bucket), policy)
        decision = decide(policy, left, taken)
        if not taken:
            what = "uploads" if bucket is Bucket.UPLOADS else "requests"
            raise DxglError(
                ErrorCode.RATE_LIMITED,
                f"Too many {what} for this token: retry in {decision.retry_after_s} s",
                headers=decision.headers(),
            )
        return decision


# One limiter per owner (a Runtime: one per process and app), forgotten with it. Keyed by id()
# with a finalizer, because a Runtime (a dataclass with eq) is not hashable.
_LIMITERS: dict[int, RateLimiter] = {}


def limiter_for(owner: Any, settings: Settings) -> RateLimiter:
    limiter = _LIMITERS.get(id(owner))
    if limiter is None:
        limiter = _LIMITERS[id(owner)] = RateLimiter(settings)
        weakref.finalize(owner, _forget, id(owner))
    return limiter


def _forget(key: int) -> None:
    limiter = _LIMITERS.pop(key, None)
    if limiter is not None and isinstance(limiter.store, RedisStore):
        # Closing needs the event loop the client ran on; when it is gone the pool just goes.
        try:
            asyncio.get_running_loop().create_task(limiter.store.close())
        except RuntimeError:
            pass
