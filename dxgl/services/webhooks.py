"""Webhook endpoints and their events (docs/webhooks.md).

Events are written to an outbox (``WebhookDelivery`` rows) inside the transaction that causes them,
so an event exists exactly when its state change committed. The hooks below are called where events
happen: ``model_created`` by the model service, ``credits_charged`` by ``credits.charge``, and
``_render_events`` by every unit of work that published a render (``uow.before_commit_of_published``:
every render status change goes through ``publish_after_commit``). After the commit the delivery job
is woken (``uow.deliver_webhooks_after_commit``); ``claim_due`` / ``record_attempt`` are its rules:
at least once, one render's events in order per endpoint, exponential back-off for about a day, an
endpoint disabled by 410 or by a day of failures. Signing is the Standard Webhooks scheme.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from dxgl.contract import ErrorCode, RenderStatus, Scope
from dxgl.errors import DxglError
from dxgl.events import model_event, render_event
from dxgl.ids import is_id, new_id, random_base62
from dxgl.ingest import netpolicy
from dxgl.services.auth import Caller
from dxgl.tables import Model3D, Render, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from dxgl.timeutil import iso, utcnow
from dxgl.uow import before_commit_of_published, deliver_webhooks_after_commit

# --- the vocabulary -------------------------------------------------------------------------------

RENDER_STATUS = "render.status"  # every status a (non-preview) render enters, creation included
RENDER_DONE = "render.done"
RENDER_ERROR = "render.error"
MODEL_CREATED = "model.created"
CREDITS_LOW = "credits.low"
EVENT_TYPES: tuple[str, ...] = (RENDER_STATUS, RENDER_DONE, RENDER_ERROR, MODEL_CREATED, CREDITS_LOW)
# Sent only by POST /v1/webhooks/{id}/test, to that endpoint, whatever it subscribes to.
TEST_EVENT = "webhook.test"

MAX_ENDPOINTS = 20
MAX_URL = 2048
MAX_DESCRIPTION = 500
DEFAULT_CREDITS_LOW_THRESHOLD = 10
SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
# After a rotation the previous secret also signs this long (receivers switch over meanwhile).
ROTATION_OVERLAP = timedelta(hours=24)
# Retries stop once the next one would fall later than this after the event; an endpoint whose
# deliveries have all failed for this long is disabled.
RETRY_WINDOW = timedelta(days=1)
# GET /v1/webhooks/{id} shows this many of the endpoint's latest deliveries, with their attempts.
RECENT_DELIVERIES = 20
# Finished deliveries (and their attempt log) are kept this long, then pruned by the delivery job.
RETENTION = timedelta(days=30)

PENDING, SUCCEEDED, FAILED = "pending", "succeeded", "failed"


# --- secrets and signatures (Standard Webhooks) ----------------------------------------------------


def new_secret() -> str:
    """``whsec_`` + base64 of 32 random bytes; the bytes (not the text) are the HMAC key."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """``v1,`` + base64 HMAC-SHA256 of ``{id}.{timestamp}.{body}`` keyed by the secret's bytes."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    digest = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(secrets_: Sequence[str], message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers; one signature per live secret, space-separated."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(sign(s, message_id, timestamp, body) for s in secrets_),
    }


def live_secrets(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    found = [endpoint.secret]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires is not None and expires > now:
        found.append(endpoint.previous_secret)
    return found


# --- validating what clients send ------------------------------------------------------------------


async def check_url(raw: Any, *, allow_private: bool) -> str:
    """A webhook URL the network policy allows (``dxgl.ingest.netpolicy``, as URL ingest): http(s),
    no credentials, and every address its host resolves to public unless ``allow_private``."""
    if not isinstance(raw, str) or not raw.strip():
        raise DxglError(ErrorCode.INVALID_URL, "url must be an http or https URL")
    if len(raw) > MAX_URL:
        raise DxglError(ErrorCode.INVALID_URL, f"url is longer than {MAX_URL} characters")
    url = netpolicy.parse_url(raw.strip())
    await netpolicy.resolve_checked(url.host, netpolicy.port_of(url), allow_private=allow_private)
    return str(url)


CREATE_FIELDS = frozenset({"url", "events", "description", "creditsLowThreshold"})
UPDATE_FIELDS = CREATE_FIELDS | {"enabled"}


def reject_unknown(fields: Any, allowed: frozenset[str]) -> None:
    """A body with a field this operation does not know is ``invalid_request`` (a typo is never ignored)."""
    unknown = sorted(set(fields) - allowed)
    if unknown:
        raise DxglError(ErrorCode.INVALID_REQUEST, f"unknown field(s): {', '.join(unknown)}")


def _events(raw: Any) -> list[str]:
    if not isinstance(raw, list) or not raw or not all(isinstance(e, str) for e in raw):
        raise DxglError(
            ErrorCode.INVALID_REQUEST, f"events must be a non-empty list of event types: {', '.join(EVENT_TYPES)}"
        )
    unknown = sorted({e for e in raw if e not in EVENT_TYPES})
    if unknown:
        raise DxglError(
            ErrorCode.INVALID_REQUEST,
            f"unknown event type(s): {', '.join(unknown)}; known: {', '.join(EVENT_TYPES)}",
        )
    return [e for e in EVENT_TYPES if e in raw]  # each once, in the documented order


def _description(raw: Any) -> str:
    if raw is None:
        return ""
    if not isinstance(raw, str) or len(raw) > MAX_DESCRIPTION:
        raise DxglError(ErrorCode.INVALID_REQUEST, f"description must be text of at most {MAX_DESCRIPTION} characters")
    return raw


def _threshold(raw: Any) -> int:
    if raw is None:
        return DEFAULT_CREDITS_LOW_THRESHOLD
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= 1_000_000_000:
        raise DxglError(ErrorCode.INVALID_REQUEST, "creditsLowThreshold must be a whole number of credits (0 or more)")
    return raw


# --- endpoints -------------------------------------------------------------------------------------


async def _account_endpoint(session: AsyncSession, account_id: str, endpoint_id: Any) -> WebhookEndpoint:
    """One of the account's endpoints, or ``webhook_not_found`` (the ``services.scoped`` pattern)."""
    endpoint = await session.get(WebhookEndpoint, endpoint_id) if is_id(endpoint_id) else None
    if endpoint is None or endpoint.account_id != account_id:
        raise DxglError(ErrorCode.WEBHOOK_NOT_FOUND)
    return endpoint


async def create_endpoint(
    session: AsyncSession,
    caller: Caller,
    *,
    url: Any,
    events: Any,
    description: Any = None,
    credits_low_threshold: Any = None,
    allow_private: bool,
    fields: Any = (),
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its secret (returned here only: shown once). ``fields``: the names the
    client sent (REST's body keys), each one of CREATE_FIELDS."""
    caller.require(Scope.WEBHOOKS_WRITE)
    reject_unknown(fields, CREATE_FIELDS)
    endpoint = WebhookEndpoint(
        id=new_id(),
        account_id=caller.account_id,
        url=await check_url(url, allow_private=allow_private),
        events=_events(events),
        description=_description(description),
        credits_low_threshold=_threshold(credits_low_threshold),
        secret=new_secret(),
    )
    count = await session.scalar(
        select(func.count()).select_from(WebhookEndpoint).where(col(WebhookEndpoint.account_id) == caller.account_id)
    )
    if (count or 0) >= MAX_ENDPOINTS:
        raise DxglError(ErrorCode.INVALID_REQUEST, f"An account may have at most {MAX_ENDPOINTS} webhook endpoints")
    session.add(endpoint)
    await session.flush()
    return endpoint, endpoint.secret


async def list_endpoints(session: AsyncSession, caller: Caller) -> list[WebhookEndpoint]:
    caller.require(Scope.WEBHOOKS_READ)
    query = (
        select(WebhookEndpoint)
        .where(col(WebhookEndpoint.account_id) == caller.account_id)
        .order_by(col(WebhookEndpoint.created_at), col(WebhookEndpoint.id))
    )
    return list((await session.execute(query)).scalars().all())


async def get_endpoint(session: AsyncSession, caller: Caller, endpoint_id: Any) -> WebhookEndpoint:
    caller.require(Scope.WEBHOOKS_READ)
    return await _account_endpoint(session, caller.account_id, endpoint_id)


@dataclass(frozen=True)
class DeliveryLog:
    delivery: WebhookDelivery
    attempts: list[WebhookAttempt]


async def recent_deliveries(
    session: AsyncSession, endpoint: WebhookEndpoint, *, limit: int = RECENT_DELIVERIES
) -> list[DeliveryLog]:
    """The endpoint's latest deliveries (newest first), each with its attempts (oldest first)."""
    rows = (
        (
            await session.execute(
                select(WebhookDelivery)
                .where(col(WebhookDelivery.endpoint_id) == endpoint.id)
                .order_by(col(WebhookDelivery.seq).desc())
                .limit(limit)
            )
        )
        .scalars()
        .all()
    )
    attempts: dict[int, list[WebhookAttempt]] = {}
    if rows:
        query = (
            select(WebhookAttempt)
            .where(col(WebhookAttempt.delivery_seq).in_([r.seq for r in rows]))
            .order_by(col(WebhookAttempt.id))
        )
        for attempt in (await session.execute(query)).scalars():
            attempts.setdefault(attempt.delivery_seq, []).append(attempt)
    return [DeliveryLog(row, attempts.get(row.seq or 0, [])) for row in rows]


async def update_endpoint(
    session: AsyncSession, caller: Caller, endpoint_id: Any, *, changes: dict[str, Any], allow_private: bool
) -> WebhookEndpoint:
    """Change ``url``, ``events``, ``description``, ``creditsLowThreshold`` and/or ``enabled`` (the
    keys given). ``enabled: true`` turns a disabled endpoint back on; its pending deliveries resume."""
    caller.require(Scope.WEBHOOKS_WRITE)
    endpoint = await _account_endpoint(session, caller.account_id, endpoint_id)
    reject_unknown(changes, UPDATE_FIELDS)
    if "url" in changes:
        endpoint.url = await check_url(changes["url"], allow_private=allow_private)
    if "events" in changes:
        endpoint.events = _events(changes["events"])
    if "description" in changes:
        endpoint.description = _description(changes["description"])
    if "creditsLowThreshold" in changes:
        endpoint.credits_low_threshold = _threshold(changes["creditsLowThreshold"])
    if "enabled" in changes:
        enabled = changes["enabled"]
        if not isinstance(enabled, bool):
            raise DxglError(ErrorCode.INVALID_REQUEST, "enabled must be true or false")
        if enabled and not endpoint.enabled:
            endpoint.disabled_reason = endpoint.disabled_at = endpoint.failing_since = None
            deliver_webhooks_after_commit(session)
        elif not enabled and endpoint.enabled:
            endpoint.disabled_reason, endpoint.disabled_at = "disabled by the account", utcnow()
        endpoint.enabled = enabled
    endpoint.updated_at = utcnow()
    await session.flush()
    return endpoint


async def delete_endpoint(session: AsyncSession, caller: Caller, endpoint_id: Any) -> WebhookEndpoint:
    """The endpoint, its deliveries (pending ones are never sent) and their attempt log."""
    caller.require(Scope.WEBHOOKS_WRITE)
    endpoint = await _account_endpoint(session, caller.account_id, endpoint_id)
    seqs = select(col(WebhookDelivery.seq)).where(col(WebhookDelivery.endpoint_id) == endpoint.id)
    await session.execute(delete(WebhookAttempt).where(col(WebhookAttempt.delivery_seq).in_(seqs)))
    await session.execute(delete(WebhookDelivery).where(col(WebhookDelivery.endpoint_id) == endpoint.id))
    await session.delete(endpoint)
    await session.flush()
    return endpoint


async def rotate_secret(session: AsyncSession, caller: Caller, endpoint_id: Any) -> tuple[WebhookEndpoint, str]:
    """A new secret (returned once); the current one keeps signing too for ROTATION_OVERLAP."""
    caller.require(Scope.WEBHOOKS_WRITE)
    endpoint = await _account_endpoint(session, caller.account_id, endpoint_id)
    now = utcnow()
    endpoint.previous_secret, endpoint.previous_secret_expires_at = endpoint.secret, now + ROTATION_OVERLAP
    endpoint.secret = new_secret()
    endpoint.updated_at = now
    await session.flush()
    return endpoint, endpoint.secret


async def send_test(session: AsyncSession, caller: Caller, endpoint_id: Any) -> WebhookDelivery:
    """Queue a ``webhook.test`` event to this endpoint (even a disabled one is recorded; it is sent
    once the endpoint is enabled)."""
    caller.require(Scope.WEBHOOKS_WRITE)
    endpoint = await _account_endpoint(session, caller.account_id, endpoint_id)
    data = {"webhookId": endpoint.id, "message": "A test event from dxgl (POST /v1/webhooks/{id}/test)"}
    delivery = _record(session, endpoint, TEST_EVENT, data, ordering_key=None)
    await session.flush()
    return delivery


# --- recording events (the outbox) -----------------------------------------------------------------


def _record(
    session: AsyncSession, endpoint: WebhookEndpoint, event_type: str, data: dict[str, Any], *, ordering_key: str | None
) -> WebhookDelivery:
    """One delivery row: the body as it will be sent, signed afresh on every attempt."""
    payload = {"type": event_type, "timestamp": iso(utcnow()), "data": data}
    delivery = WebhookDelivery(
        message_id="msg_" + random_base62(24),
        endpoint_id=endpoint.id,
        account_id=endpoint.account_id,
        event_type=event_type,
        ordering_key=ordering_key,
        body=json.dumps(payload, separators=(",", ":"), ensure_ascii=False),
    )
    session.add(delivery)
    deliver_webhooks_after_commit(session)
    return delivery


async def _subscribers(session: AsyncSession, account_id: str) -> list[WebhookEndpoint]:
    query = select(WebhookEndpoint).where(
        col(WebhookEndpoint.account_id) == account_id, col(WebhookEndpoint.enabled).is_(True)
    )
    return list((await session.execute(query)).scalars().all())


async def model_created(session: AsyncSession, model: Model3D) -> None:
    """A new model row was flushed in this transaction: record its ``model.created`` event."""
    for endpoint in await _subscribers(session, model.account_id):
        if MODEL_CREATED in endpoint.events:
            _record(session, endpoint, MODEL_CREATED, model_event(model), ordering_key=None)


async def credits_charged(
    session: AsyncSession, *, account_id: str, before: tuple[int, int], after: tuple[int, int]
) -> None:
    """A charge moved the balance (paid, free) from ``before`` to ``after``: ``credits.low`` for each
    endpoint whose threshold the total (paid + free) just fell below (once per crossing)."""
    total_before, total_after = sum(before), sum(after)
    if total_after >= total_before:
        return
    for endpoint in await _subscribers(session, account_id):
        threshold = endpoint.credits_low_threshold
        if CREDITS_LOW in endpoint.events and total_before >= threshold > total_after:
            data = {
                "credits": total_after,
                "paidCredits": after[0],
                "freeCredits": after[1],
                "threshold": threshold,
            }
            _record(session, endpoint, CREDITS_LOW, data, ordering_key=None)


@before_commit_of_published
async def _render_events(session: AsyncSession, renders: list[Any]) -> None:
    """The render events of a transaction's published renders, each as it is at commit time:
    ``render.status`` always, then ``render.done`` / ``render.error``. System previews send none."""
    wanted = [r for r in renders if isinstance(r, Render) and not r.is_system_preview]
    if not wanted:
        return
    await session.flush()  # the rows as they will commit
    endpoints: dict[str, list[WebhookEndpoint]] = {}
    for render in wanted:
        if render.account_id not in endpoints:
            endpoints[render.account_id] = await _subscribers(session, render.account_id)
        if not endpoints[render.account_id]:
            continue
        types = [RENDER_STATUS]
        if render.status == RenderStatus.DONE.value:
            types.append(RENDER_DONE)
        elif render.status == RenderStatus.ERROR.value:
            types.append(RENDER_ERROR)
        data = render_event(render)
        for endpoint in endpoints[render.account_id]:
            for event_type in types:
                if event_type in endpoint.events:
                    _record(session, endpoint, event_type, data, ordering_key=render.id)


# --- delivering (the rules the delivery job follows) ------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    """A delivery taken by one delivery job (a lease), with what it needs to send it."""

    seq: int
    message_id: str
    endpoint_id: str
    url: str
    body: bytes
    secrets: tuple[str, ...]
    number: int  # this attempt's number (1 = the first)


@dataclass(frozen=True)
class Outcome:
    """What one attempt got: an HTTP status (None when nothing was answered) or an error."""

    status_code: int | None
    duration_ms: int
    error: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _due(now: datetime) -> list[Any]:
    """Pending deliveries of enabled endpoints, not leased, that no earlier pending delivery with
    the same ordering key (a render) to the same endpoint holds back."""
    earlier = aliased(WebhookDelivery)
    held_back = exists().where(
        col(earlier.endpoint_id) == col(WebhookDelivery.endpoint_id),
        col(earlier.ordering_key) == col(WebhookDelivery.ordering_key),
        col(earlier.seq) < col(WebhookDelivery.seq),
        col(earlier.status) == PENDING,
    )
    return [
        col(WebhookDelivery.status) == PENDING,
        or_(col(WebhookDelivery.lease_until).is_(None), col(WebhookDelivery.lease_until) < now),
        col(WebhookEndpoint.enabled).is_(True),
        ~held_back,
    ]


async def claim_due(session: AsyncSession, *, lease_s: float, limit: int) -> list[Claimed]:
    """Take up to ``limit`` due deliveries for this job (a lease each: a job that dies mid-send
    leaves them to be taken again once the lease ends: at least once)."""
    now = utcnow()
    query = (
        select(WebhookDelivery, WebhookEndpoint)
        .join(WebhookEndpoint, col(WebhookEndpoint.id) == col(WebhookDelivery.endpoint_id))
        .where(*_due(now), col(WebhookDelivery.next_attempt_at) <= now)
        .order_by(col(WebhookDelivery.seq))
        .limit(limit)
    )
    claimed = []
    for delivery, endpoint in (await session.execute(query)).all():
        result = await session.execute(
            update(WebhookDelivery)
            .where(
                col(WebhookDelivery.seq) == delivery.seq,
                col(WebhookDelivery.status) == PENDING,
                or_(col(WebhookDelivery.lease_until).is_(None), col(WebhookDelivery.lease_until) < now),
            )
            .values(lease_until=now + timedelta(seconds=lease_s))
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            continue  # another job took it
        claimed.append(
            Claimed(
                seq=delivery.seq or 0,
                message_id=delivery.message_id,
                endpoint_id=endpoint.id,
                url=endpoint.url,
                body=delivery.body.encode(),
                secrets=tuple(live_secrets(endpoint, now)),
                number=delivery.attempts + 1,
            )
        )
    return claimed


def _disable(endpoint: WebhookEndpoint, reason: str, now: datetime) -> None:
    endpoint.enabled = False
    endpoint.disabled_reason = reason[:500]
    endpoint.disabled_at = endpoint.updated_at = now


async def _first_attempt_at(session: AsyncSession, seq: int, default: datetime) -> datetime:
    # The earliest row, not min(): the column's own type gives an aware datetime on every database.
    first = (
        await session.execute(
            select(col(WebhookAttempt.created_at))
            .where(col(WebhookAttempt.delivery_seq) == seq)
            .order_by(col(WebhookAttempt.created_at))
            .limit(1)
        )
    ).scalar_one_or_none()
    return default if first is None else first


async def record_attempt(session: AsyncSession, claimed: Claimed, outcome: Outcome, *, retry_base_s: float) -> None:
    """Log the attempt and decide what follows: done on 2xx; on anything else a retry after
    ``retry_base_s`` doubling per attempt, until the next retry would fall more than RETRY_WINDOW
    after the event (then failed). 410 Gone fails it at once and disables the endpoint, as does a
    RETRY_WINDOW of nothing but failures."""
    now = utcnow()
    delivery = await session.get(WebhookDelivery, claimed.seq, populate_existing=True)
    endpoint = await session.get(WebhookEndpoint, claimed.endpoint_id, populate_existing=True)
    if delivery is None or endpoint is None or delivery.status != PENDING:
        return  # the endpoint was deleted meanwhile
    session.add(
        WebhookAttempt(
            delivery_seq=claimed.seq,
            number=claimed.number,
            status_code=outcome.status_code,
            duration_ms=outcome.duration_ms,
            error=outcome.error[:500] if outcome.error else None,
            created_at=now,
        )
    )
    delivery.attempts = claimed.number
    delivery.last_status_code = outcome.status_code
    delivery.last_error = outcome.error[:500] if outcome.error else None
    delivery.lease_until = None
    if outcome.succeeded:
        delivery.status, delivery.completed_at = SUCCEEDED, now
        endpoint.failing_since = None
    else:
        if endpoint.failing_since is None:
            endpoint.failing_since = now
        retry_at = now + timedelta(seconds=retry_base_s * 2 ** (claimed.number - 1))
        if outcome.status_code == 410:
            delivery.status, delivery.completed_at = FAILED, now
            _disable(endpoint, "The endpoint answered 410 Gone", now)
        elif retry_at - delivery.created_at > RETRY_WINDOW:
            delivery.status, delivery.completed_at = FAILED, now
            # Given up after its whole retry window (about a day, the last retry a little short of
            # it) with nothing succeeding since its first attempt: the endpoint failed for a day.
            if endpoint.enabled and endpoint.failing_since <= await _first_attempt_at(session, claimed.seq, now):
                _disable(endpoint, f"Every delivery has failed since {iso(endpoint.failing_since)}", now)
        else:
            delivery.next_attempt_at = retry_at
        if endpoint.enabled and now - endpoint.failing_since >= RETRY_WINDOW:
            _disable(endpoint, f"Every delivery has failed since {iso(endpoint.failing_since)}", now)
    await session.flush()


async def next_due(session: AsyncSession) -> datetime | None:
    """When the earliest delivery not yet due falls due (None: none waits)."""
    now = utcnow()
    query = (
        select(func.min(col(WebhookDelivery.next_attempt_at)))
        .select_from(WebhookDelivery)
        .join(WebhookEndpoint, col(WebhookEndpoint.id) == col(WebhookDelivery.endpoint_id))
        .where(*_due(now))
    )
    found: datetime | None = await session.scalar(query)
    return found


async def prune_finished(session: AsyncSession, *, limit: int = 1000) -> int:
    """Delete up to ``limit`` deliveries finished more than RETENTION ago, with their attempts (the
    outbox would otherwise grow forever). Returns how many went."""
    finished = (
        select(col(WebhookDelivery.seq))
        .where(
            col(WebhookDelivery.status).in_([SUCCEEDED, FAILED]),
            col(WebhookDelivery.completed_at) < utcnow() - RETENTION,
        )
        .limit(limit)
    )
    seqs = list((await session.execute(finished)).scalars())
    if seqs:
        await session.execute(delete(WebhookAttempt).where(col(WebhookAttempt.delivery_seq).in_(seqs)))
        await session.execute(delete(WebhookDelivery).where(col(WebhookDelivery.seq).in_(seqs)))
    return len(seqs)
