"""Idempotent requests (docs/api.md, "Idempotent requests"): an ``Idempotency-Key`` makes a
creating request safe to retry.

The first request with a key *claims* it: a row with its request's fingerprint and no status yet,
committed on its own, so a concurrent request with the same key sees it at once (the primary key
(account, key) lets exactly one insert win, on SQLite and PostgreSQL alike). The claimant then does
the work and records its response **in the work's own transaction** (:func:`complete`): the
render and the response to replay commit together or not at all. A request that fails did nothing
(its transaction rolled back), so its claim is released and the key may be used again.

A later request with the key and the same fingerprint gets the recorded response; with another
fingerprint, 409 ``idempotency_conflict``. While the first is still running, the others wait for
its response (up to ``WAIT_S``), then answer 409 ``idempotency_conflict`` ("still in progress").
Records expire after ``TTL``; a claim still running after ``STALE_AFTER`` (its process died) is
taken over.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from dxgl.contract import ErrorCode
from dxgl.errors import DxglError
from dxgl.tables import IdempotencyRecord
from dxgl.timeutil import utcnow

HEADER = "Idempotency-Key"
TTL = timedelta(hours=24)
# Longer than any legitimate request (an upload's parse is bounded by DXGL_INGEST_TIMEOUT_SECONDS).
STALE_AFTER = timedelta(hours=1)
WAIT_S = 15.0
_POLL_S = (0.02, 0.05, 0.1, 0.2, 0.25)
MAX_KEY_LEN = 255
_KEY_RE = re.compile(r"^[\x21-\x7e]{1,255}$")  # visible ASCII: what survives every HTTP stack

UnitOfWork = Callable[[], AbstractAsyncContextManager[AsyncSession]]
T = TypeVar("T")


def validate_key(raw: Any) -> str | None:
    """The client's key (None: not sent); 400 ``invalid_request`` unless 1-255 visible ASCII characters."""
    if raw is None:
        return None
    if not isinstance(raw, str) or not _KEY_RE.match(raw):
        raise DxglError(
            ErrorCode.INVALID_REQUEST,
            f"{HEADER} must be 1 to {MAX_KEY_LEN} visible ASCII characters (a UUID is a good choice)",
        )
    return raw


def fingerprint(*parts: str | bytes) -> str:
    """SHA-256 over the parts, each length-prefixed (so no two different part lists collide)."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()


def canonical_json(value: Any) -> str:
    """The same JSON value always gives the same text (key order and spacing do not matter)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def json_fingerprint(operation: str, body: bytes) -> str:
    """``operation`` (e.g. ``POST /v1/renders``) and the JSON body, canonical when it parses."""
    try:
        text = canonical_json(json.loads(body)) if body.strip() else ""
    except ValueError:
        return fingerprint(operation, "raw", body)
    return fingerprint(operation, "json", text)


def upload_fingerprint(operation: str, *, sha256: str, filename: str, fields: dict[str, str]) -> str:
    """A multipart upload: the file by its SHA-256 (and name) and the other fields, so a retry
    whose multipart boundary differs is the same request."""
    return fingerprint(operation, "multipart", sha256, filename, canonical_json(fields))


@dataclass(frozen=True)
class Claim:
    """This request holds the key: it does the work, then :func:`complete` (or :func:`release`)."""

    account_id: str
    key: str


@dataclass(frozen=True)
class Replay:
    """The response the key's first request answered."""

    status_code: int
    body: str
    headers: dict[str, str] = field(default_factory=dict)


_RUNNING = "running"
_CONFLICT = "conflict"


async def _try_claim(session: AsyncSession, account_id: str, key: str, request_hash: str) -> Claim | Replay | str:
    now = utcnow()
    # Expired records of this account, and this key's claim when it was abandoned, are gone first.
    await session.execute(
        delete(IdempotencyRecord).where(
            col(IdempotencyRecord.account_id) == account_id,
            or_(
                col(IdempotencyRecord.expires_at) <= now,
                (col(IdempotencyRecord.key) == key)
                & col(IdempotencyRecord.status_code).is_(None)
                & (col(IdempotencyRecord.created_at) <= now - STALE_AFTER),
            ),
        )
    )
    try:
        async with session.begin_nested():
            session.add(
                IdempotencyRecord(
                    account_id=account_id, key=key, request_hash=request_hash, created_at=now, expires_at=now + TTL
                )
            )
            await session.flush()
        return Claim(account_id, key)
    except IntegrityError:
        pass
    row = (
        await session.execute(
            select(
                col(IdempotencyRecord.request_hash),
                col(IdempotencyRecord.status_code),
                col(IdempotencyRecord.response_body),
                col(IdempotencyRecord.response_headers),
            ).where(col(IdempotencyRecord.account_id) == account_id, col(IdempotencyRecord.key) == key)
        )
    ).first()
    if row is None:
        return _RUNNING  # released between our insert and our read: try again
    if row.request_hash != request_hash:
        return _CONFLICT
    if row.status_code is None:
        return _RUNNING
    return Replay(row.status_code, row.response_body or "", dict(row.response_headers or {}))


async def acquire(
    unit_of_work: UnitOfWork, *, account_id: str, key: str, request_hash: str, wait_s: float = WAIT_S
) -> Claim | Replay:
    """Claim ``key`` for this request, or get the response to replay. Each attempt is a short
    transaction of its own (``unit_of_work``); waiting holds none. Raises 409
    ``idempotency_conflict`` for another body, or when the first request is still running after
    ``wait_s``."""
    deadline = time.monotonic() + wait_s
    attempt = 0
    while True:
        async with unit_of_work() as session:
            outcome = await _try_claim(session, account_id, key, request_hash)
        if isinstance(outcome, (Claim, Replay)):
            return outcome
        if outcome == _CONFLICT:
            raise DxglError(
                ErrorCode.IDEMPOTENCY_CONFLICT,
                f"This {HEADER} was already used with a different request; use a new key for a new request",
            )
        if time.monotonic() >= deadline:
            raise DxglError(
                ErrorCode.IDEMPOTENCY_CONFLICT,
                f"A request with this {HEADER} is still in progress; retry it later to get its response",
            )
        await asyncio.sleep(_POLL_S[min(attempt, len(_POLL_S) - 1)])
        attempt += 1


async def complete(
    session: AsyncSession, claim: Claim, *, status_code: int, body: str, headers: dict[str, str] | None = None
) -> None:
    """Record the response to replay, in the transaction that did the work (call it last in it)."""
    await session.execute(
        update(IdempotencyRecord)
        .where(col(IdempotencyRecord.account_id) == claim.account_id, col(IdempotencyRecord.key) == claim.key)
        .values(status_code=status_code, response_body=body, response_headers=headers or {})
    )


async def release(unit_of_work: UnitOfWork, claim: Claim) -> None:
    """The request failed (its work rolled back): free the key, so a retry runs again."""
    async with unit_of_work() as session:
        await session.execute(
            delete(IdempotencyRecord).where(
                col(IdempotencyRecord.account_id) == claim.account_id,
                col(IdempotencyRecord.key) == claim.key,
                col(IdempotencyRecord.status_code).is_(None),
            )
        )


async def run_once(
    unit_of_work: UnitOfWork,
    *,
    account_id: str,
    key: str,
    request_hash: str,
    work: Callable[[AsyncSession], Awaitable[T]],
    record: Callable[[T], Replay],
) -> T | Replay:
    """The whole rule, for every adapter: claim ``key`` (or return the response to replay), run
    ``work`` in a unit of work and record ``record(result)`` in that same transaction; on any
    failure release the key and re-raise."""
    outcome = await acquire(unit_of_work, account_id=account_id, key=key, request_hash=request_hash)
    if isinstance(outcome, Replay):
        return outcome
    try:
        async with unit_of_work() as session:
            result = await work(session)
            response = record(result)
            await complete(
                session, outcome, status_code=response.status_code, body=response.body, headers=response.headers
            )
    except BaseException:
        await release(unit_of_work, outcome)
        raise
    return result
