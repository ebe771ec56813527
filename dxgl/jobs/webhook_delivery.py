"""Webhook delivery: send what the outbox holds (``dxgl.services.webhooks`` decides what is due and
what follows each attempt; this module only does the HTTP).

One round claims the due deliveries (a lease each), sends them concurrently, and records every
attempt; rounds repeat until nothing is due. Each request: the URL's host resolved and checked
against the network policy again (DNS may have changed since creation), the connection made to the
checked address, a total timeout (``DXGL_WEBHOOK_TIMEOUT_SECONDS``), redirects never followed.

Run by the arq worker of the webhook queue (``worker.py``: ``deliver_webhooks``) or by the embedded
runner's delivery task (``dxgl.queue.EmbeddedQueue.deliver_with``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta
from typing import Any

import httpx

from dxgl.errors import DxglError
from dxgl.ingest import netpolicy
from dxgl.queue import EmbeddedQueue
from dxgl.runtime import Runtime
from dxgl.services import webhooks
from dxgl.services.webhooks import Claimed, Outcome
from dxgl.timeutil import utcnow

log = logging.getLogger(__name__)

BATCH = 20  # deliveries claimed per round
MAX_ROUNDS = 50  # then the job ends; what is left is due and the next wake-up or sweep takes it
USER_AGENT = "dxgl-webhooks/1"
# The soonest a round asks to be woken again (a due delivery another job holds is not spun on).
MIN_WAKE = timedelta(seconds=0.2)
# How often one process prunes old finished deliveries (services.webhooks.RETENTION).
PRUNE_EVERY_S = 600.0
_last_prune: dict[int, float] = {}


def _elapsed_ms(start: float) -> int:
    return int((time.monotonic() - start) * 1000)


async def _post(client: httpx.AsyncClient, claimed: Claimed, *, allow_private: bool) -> Outcome:
    start = time.monotonic()
    try:
        url = netpolicy.parse_url(claimed.url)
        address = await netpolicy.resolve_checked(url.host, netpolicy.port_of(url), allow_private=allow_private)
    except DxglError as err:
        return Outcome(None, _elapsed_ms(start), f"refused by the network policy: {err.message}")
    headers = {
        **webhooks.signed_headers(claimed.secrets, claimed.message_id, int(time.time()), claimed.body),
        "Host": url.netloc.decode("ascii"),
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
    }
    # TLS still checks the certificate against the URL's host name, not the pinned address.
    extensions = (
        {"sni_hostname": url.host} if url.scheme == "https" and netpolicy.literal_address(url.host) is None else {}
    )
    request = client.build_request(
        "POST", url.copy_with(host=str(address)), content=claimed.body, headers=headers, extensions=extensions
    )
    response = await client.send(request, stream=True)
    try:
        return Outcome(response.status_code, _elapsed_ms(start))
    finally:
        await response.aclose()


async def attempt(client: httpx.AsyncClient, claimed: Claimed, *, allow_private: bool, timeout_s: float) -> Outcome:
    """Send one delivery once; never raises (every failure is an outcome that is logged)."""
    start = time.monotonic()
    try:
        async with asyncio.timeout(timeout_s):
            outcome = await _post(client, claimed, allow_private=allow_private)
    except TimeoutError:
        outcome = Outcome(None, _elapsed_ms(start), f"no answer within {timeout_s:g} s")
    except httpx.HTTPError as exc:
        outcome = Outcome(None, _elapsed_ms(start), f"{type(exc).__name__}: {exc}"[:500])
    except Exception as exc:  # e.g. a URL httpx cannot build: one delivery's problem, logged as such
        log.exception("webhook %s: unexpected error", claimed.message_id)
        outcome = Outcome(None, _elapsed_ms(start), f"{type(exc).__name__}: {exc}"[:500])
    if outcome.status_code is not None and 300 <= outcome.status_code < 400:
        outcome = Outcome(outcome.status_code, outcome.duration_ms, "redirects are not followed")
    log.info(
        "webhook %s to endpoint %s, attempt %d: %s in %d ms%s",
        claimed.message_id,
        claimed.endpoint_id,
        claimed.number,
        outcome.status_code if outcome.status_code is not None else "no response",
        outcome.duration_ms,
        f" ({outcome.error})" if outcome.error else "",
    )
    return outcome


async def deliver_due(rt: Runtime) -> datetime | None:
    """Deliver every due delivery; returns when the next one falls due (None: nothing waits)."""
    settings = rt.settings
    timeout_s = settings.webhook_timeout_seconds
    # trust_env off: no proxy from the environment may take the request somewhere unchecked.
    # No kept-alive connections: the pool is keyed by the pinned address, not the host name TLS
    # checked, so two hosts on one address could otherwise share a connection verified for one.
    async with httpx.AsyncClient(
        trust_env=False, follow_redirects=False, timeout=timeout_s, limits=httpx.Limits(max_keepalive_connections=0)
    ) as client:
        for _round in range(MAX_ROUNDS):
            async with rt.unit_of_work() as session:
                claimed = await webhooks.claim_due(session, lease_s=timeout_s + 30, limit=BATCH)
            if not claimed:
                break
            outcomes = await asyncio.gather(
                *(
                    attempt(client, c, allow_private=settings.webhook_allow_private, timeout_s=timeout_s)
                    for c in claimed
                )
            )
            async with rt.unit_of_work() as session:
                for c, outcome in zip(claimed, outcomes):
                    await webhooks.record_attempt(session, c, outcome, retry_base_s=settings.webhook_retry_base_seconds)
    async with rt.unit_of_work() as session:
        next_at = await webhooks.next_due(session)
    await _prune_now_and_then(rt)
    if next_at is None:
        return None
    return max(next_at, utcnow() + MIN_WAKE)


async def _prune_now_and_then(rt: Runtime) -> None:
    now = time.monotonic()
    if now - _last_prune.get(id(rt), -PRUNE_EVERY_S) < PRUNE_EVERY_S:
        return
    _last_prune[id(rt)] = now
    async with rt.unit_of_work() as session:
        pruned = await webhooks.prune_finished(session)
    if pruned:
        log.info("pruned %d finished webhook deliveries older than %s", pruned, webhooks.RETENTION)


async def deliver_webhooks(ctx: dict[str, Any]) -> None:
    """The arq job (webhook queue): deliver what is due, then book a job for the next retry."""
    rt: Runtime = ctx["runtime"]
    next_at = await deliver_due(rt)
    if next_at is not None:
        await rt.queue.enqueue_webhooks(at=next_at)


def start_webhook_delivery(rt: Runtime) -> None:
    """The embedded default: deliveries in a task of this process, apart from the render runner."""
    assert isinstance(rt.queue, EmbeddedQueue)
    rt.queue.deliver_with(lambda: deliver_due(rt))
