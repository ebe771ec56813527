"""Webhook endpoints over REST, on SQLite and PostgreSQL, with a real receiver on 127.0.0.1.

Renders stay pending here (the API tests' settings) and no delivery task runs: each test runs the
delivery job's rounds itself (``deliver_due``), so what was sent when is deterministic. The render
that really renders and is delivered by the embedded runner is in test_webhooks_render.py.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlmodel import col
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from dxgl.config import Settings
from dxgl.contract import RenderStatus
from dxgl.jobs.webhook_delivery import deliver_due
from dxgl.rest.serializers import model_json
from dxgl.services import render_state, webhooks
from dxgl.tables import Model3D, Render, WebhookDelivery, WebhookEndpoint
from dxgl.timeutil import utcnow
from tests.api.helpers import assert_error, minimal_glb
from tests.api.test_webhooks_support import Receiver, until
from tests.conftest import running_service as running
from tests.ingest.ssrf_spellings import SSRF_URLS

ALL_EVENTS = list(webhooks.EVENT_TYPES)


@pytest.fixture
def open_settings(settings: Settings) -> Settings:
    """The API tests' settings with private receivers allowed (the receiver is on 127.0.0.1).
    Retries happen only when a test makes them due (a slow machine must not retry on its own)."""
    return settings.model_copy(update={"webhook_allow_private": True, "webhook_retry_base_seconds": 3600})


async def _create(account: Any, url: str, events: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    r = await account.request("POST", "/v1/webhooks", json={"url": url, "events": events or ALL_EVENTS, **extra})
    assert r.status_code == 201, r.text
    return r.json()["data"]


async def _detail(account: Any, endpoint_id: str) -> dict[str, Any]:
    r = await account.request("GET", f"/v1/webhooks/{endpoint_id}")
    assert r.status_code == 200, r.text
    return r.json()["data"]


async def _deliveries(service: Any, endpoint_id: str) -> list[WebhookDelivery]:
    async with service.runtime.unit_of_work() as session:
        query = select(WebhookDelivery).where(col(WebhookDelivery.endpoint_id) == endpoint_id)
        return list((await session.execute(query.order_by(col(WebhookDelivery.seq)))).scalars())


# --- endpoints: create once-shown secret, list, get, patch, delete, scopes, tenancy ---------------


async def test_endpoint_lifecycle_and_the_secret_shown_once(open_settings: Settings) -> None:
    async with running(open_settings) as service:
        acct = await service.account()
        created = await _create(acct, "http://127.0.0.1:9/hook", [webhooks.RENDER_DONE], description="ci")
        assert created["secret"].startswith("whsec_")
        assert created["events"] == [webhooks.RENDER_DONE] and created["enabled"] is True
        assert created["description"] == "ci" and created["creditsLowThreshold"] == 10
        listed = (await acct.request("GET", "/v1/webhooks")).json()["data"]
        assert [e["id"] for e in listed] == [created["id"]]
        assert all("secret" not in e for e in listed)
        detail = await _detail(acct, created["id"])
        assert "secret" not in detail and detail["deliveries"] == []

        r = await acct.request(
            "PATCH",
            f"/v1/webhooks/{created['id']}",
            json={"events": [webhooks.MODEL_CREATED, webhooks.RENDER_DONE], "enabled": False},
        )
        assert r.status_code == 200, r.text
        # Each event once, in the documented order; disabling says why.
        assert r.json()["data"]["events"] == [webhooks.RENDER_DONE, webhooks.MODEL_CREATED]
        assert r.json()["data"]["disabledReason"] == "disabled by the account"
        r = await acct.request("PATCH", f"/v1/webhooks/{created['id']}", json={"enabled": True})
        assert r.json()["data"]["enabled"] is True and r.json()["data"]["disabledReason"] is None
        assert_error(
            await acct.request("PATCH", f"/v1/webhooks/{created['id']}", json={"bogus": 1}), 400, "invalid_request"
        )

        r = await acct.request("DELETE", f"/v1/webhooks/{created['id']}")
        assert r.json() == {"data": {"id": created["id"], "deleted": True}}
        assert_error(await acct.request("GET", f"/v1/webhooks/{created['id']}"), 404, "webhook_not_found")


async def test_bad_bodies_are_refused_with_documented_codes(open_settings: Settings) -> None:
    async with running(open_settings) as service:
        acct = await service.account()
        for body, code in [
            ({"url": "http://127.0.0.1:9/", "events": []}, "invalid_request"),
            ({"url": "http://127.0.0.1:9/", "events": ["render.nope"]}, "invalid_request"),
            ({"url": "http://127.0.0.1:9/"}, "invalid_request"),
            ({"events": ALL_EVENTS}, "invalid_url"),
            ({"url": "http://127.0.0.1:9/", "events": ALL_EVENTS, "creditsLowThreshold": -1}, "invalid_request"),
            ({"url": "http://127.0.0.1:9/", "events": ALL_EVENTS, "description": "x" * 501}, "invalid_request"),
            ({"url": "http://127.0.0.1:9/", "events": ALL_EVENTS, "secret": "whsec_mine"}, "invalid_request"),
        ]:
            assert_error(await acct.request("POST", "/v1/webhooks", json=body), 400, code)


async def test_scopes_and_tenancy(open_settings: Settings) -> None:
    async with running(open_settings) as service:
        owner, other = await service.account(), await service.account()
        reader = await service.account(scopes="webhooks:read")
        # A token made with an explicit scope list before webhooks existed has neither scope.
        old = await service.account(scopes="models:read,renders:read,renders:write")
        created = await _create(owner, "http://127.0.0.1:9/hook")
        for path in (f"/v1/webhooks/{created['id']}", f"/v1/webhooks/{created['id']}/test"):
            method = "GET" if path.endswith(created["id"]) else "POST"
            assert_error(await other.request(method, path), 404, "webhook_not_found")
        assert (await other.request("GET", "/v1/webhooks")).json()["data"] == []
        assert_error(await other.request("DELETE", f"/v1/webhooks/{created['id']}"), 404, "webhook_not_found")
        assert (await reader.request("GET", "/v1/webhooks")).status_code == 200
        assert_error(
            await reader.request("POST", "/v1/webhooks", json={"url": "http://127.0.0.1:9/", "events": ALL_EVENTS}),
            403,
            "insufficient_scope",
        )
        assert_error(await old.request("GET", "/v1/webhooks"), 403, "insufficient_scope")


# --- the network policy: refused at creation and at delivery -----------------------------------------


async def test_private_and_loopback_urls_are_refused_at_creation_by_default(settings: Settings) -> None:
    async with running(settings) as service:
        await _refused_at_creation(service)


async def _refused_at_creation(service: Any) -> None:
    acct = await service.account()
    with Receiver() as receiver:
        for spelling in SSRF_URLS:
            url = spelling.format(port=receiver.port)
            r = await acct.request("POST", "/v1/webhooks", json={"url": url, "events": ALL_EVENTS})
            assert_error(r, 400, "invalid_url")
            r = await acct.request("GET", "/v1/webhooks")
            assert r.json()["data"] == [], url
        assert receiver.accepted == 0


async def test_private_urls_are_refused_again_at_delivery(settings: Settings) -> None:
    """Endpoints stored while the policy allowed them (or whose DNS changed since) are not
    connected to: every attempt is logged as refused and the receiver sees no connection."""
    async with running(settings) as service:
        await _refused_at_delivery(service)


async def _refused_at_delivery(service: Any) -> None:
    acct = await service.account()
    with Receiver() as receiver:
        stored = []
        async with service.runtime.unit_of_work() as session:
            for spelling in SSRF_URLS:
                url = spelling.format(port=receiver.port)
                if not url.startswith(("http://", "https://")):
                    continue  # not a webhook URL at all: never storable
                endpoint = WebhookEndpoint(
                    id=f"ssrf{len(stored)}",
                    account_id=acct.id,
                    url=url,
                    events=ALL_EVENTS,
                    secret=webhooks.new_secret(),
                )
                session.add(endpoint)
                stored.append(endpoint.id)
        for endpoint_id in stored:
            assert (await acct.request("POST", f"/v1/webhooks/{endpoint_id}/test")).status_code == 202
        await deliver_due(service.runtime)
        assert receiver.accepted == 0
        for endpoint_id in stored:
            [delivery] = (await _detail(acct, endpoint_id))["deliveries"]
            [attempt] = delivery["attemptLog"]
            assert attempt["statusCode"] is None, endpoint_id
            assert attempt["error"].startswith("refused by the network policy"), attempt
            assert delivery["status"] == "pending" and delivery["nextAttemptAt"] is not None


# --- events: what is recorded, in the transaction that causes it ------------------------------------


async def test_model_created_carries_the_rest_model_json(open_settings: Settings) -> None:
    async with running(open_settings) as service:
        acct = await service.account()
        endpoint = await _create(acct, "http://127.0.0.1:9/hook", [webhooks.MODEL_CREATED])
        r = await acct.upload(minimal_glb(b"created"), name="tri.glb")
        assert r.status_code == 201, r.text
        model_id = r.json()["data"]["modelId"]
        [delivery] = await _deliveries(service, endpoint["id"])
        event = json.loads(delivery.body)
        async with service.runtime.unit_of_work() as session:
            model = await session.get_one(Model3D, model_id)
        assert event["type"] == "model.created" and set(event) == {"type", "timestamp", "data"}
        assert event["data"] == model_json(model)
        # A duplicate upload creates no model, so no second event.
        await acct.upload(minimal_glb(b"created"), name="tri.glb")
        assert len(await _deliveries(service, endpoint["id"])) == 1


async def test_render_status_events_and_no_events_for_system_previews(open_settings: Settings) -> None:
    settings = open_settings.model_copy(update={"system_preview": True})
    async with running(settings) as service:
        acct = await service.account()
        endpoint = await _create(acct, "http://127.0.0.1:9/hook", [webhooks.RENDER_STATUS, webhooks.RENDER_ERROR])
        r = await acct.upload(minimal_glb(b"statuses"))
        render_id = r.json()["data"]["renderId"]
        async with service.runtime.unit_of_work() as session:
            preview = (
                await session.execute(
                    select(Render).where(col(Render.is_system_preview).is_(True), col(Render.account_id) == acct.id)
                )
            ).scalar_one()
            # The worker's transitions, through the same service calls a job makes.
            claimed = await render_state.claim(session, preview.id, lease_s=60, max_attempts=3)
            assert claimed is not None
        async with service.runtime.unit_of_work() as session:
            render = await render_state.claim(session, render_id, lease_s=60, max_attempts=3)
            assert render is not None
        async with service.runtime.unit_of_work() as session:
            render = await session.get_one(Render, render_id)
            await render_state.fail(session, render, "it broke")
        events = [json.loads(d.body) for d in await _deliveries(service, endpoint["id"])]
        assert [(e["type"], e["data"]["status"]) for e in events] == [
            ("render.status", "pending"),
            ("render.status", "poster-processing"),
            ("render.status", "error"),
            ("render.error", "error"),
        ]
        assert all(e["data"]["id"] == render_id and e["data"]["isSystemPreview"] is False for e in events)
        assert events[-1]["data"]["errorMessage"] == "it broke"
        rest = (await acct.request("GET", f"/v1/renders/{render_id}")).json()["data"]
        assert events[-1]["data"] == rest


async def test_a_rolled_back_change_records_no_event(open_settings: Settings) -> None:
    async with running(open_settings) as service:
        acct = await service.account()
        endpoint = await _create(acct, "http://127.0.0.1:9/hook", [webhooks.RENDER_STATUS])
        render_id = (await acct.upload(minimal_glb(b"rollback"))).json()["data"]["renderId"]
        before = len(await _deliveries(service, endpoint["id"]))
        with pytest.raises(RuntimeError):
            async with service.runtime.unit_of_work() as session:
                await render_state.claim(session, render_id, lease_s=60, max_attempts=3)
                raise RuntimeError("the job died before its commit")
        assert len(await _deliveries(service, endpoint["id"])) == before


async def test_credits_low_once_per_crossing(open_settings: Settings) -> None:
    async with running(open_settings) as service:
        acct = await service.account(credits=12)
        endpoint = await _create(acct, "http://127.0.0.1:9/hook", [webhooks.CREDITS_LOW], creditsLowThreshold=10)
        model_id = (await acct.upload(minimal_glb(b"credits"))).json()["data"]["modelId"]  # 12 -> 11
        for _ in range(3):  # 11 -> 10 (not below), 10 -> 9 (crosses), 9 -> 8 (already below)
            r = await acct.request("POST", "/v1/renders", json={"modelId": model_id, "renderSettings": {}})
            assert r.status_code == 201, r.text
        events = [json.loads(d.body) for d in await _deliveries(service, endpoint["id"])]
        assert [e["type"] for e in events] == ["credits.low"]
        assert events[0]["data"] == {"credits": 9, "paidCredits": 9, "freeCredits": 0, "threshold": 10}


# --- delivery: signatures, retries, ordering, redirects, 410 ----------------------------------------


async def test_test_event_is_signed_and_a_tampered_body_fails(open_settings: Settings) -> None:
    async with running(open_settings) as service:
        acct = await service.account()
        with Receiver() as receiver:
            endpoint = await _create(acct, receiver.url)
            r = await acct.request("POST", f"/v1/webhooks/{endpoint['id']}/test")
            assert r.status_code == 202 and r.json()["data"]["type"] == "webhook.test"
            await deliver_due(service.runtime)
            [got] = receiver.received
        event = Webhook(endpoint["secret"]).verify(got.body, got.headers)
        assert event["data"]["webhookId"] == endpoint["id"]
        assert got.webhook_id == r.json()["data"]["id"] and got.headers["content-type"] == "application/json"
        with pytest.raises(WebhookVerificationError):
            Webhook(endpoint["secret"]).verify(got.body.replace(b"test", b"tEst"), got.headers)
        with pytest.raises(WebhookVerificationError):
            Webhook(webhooks.new_secret()).verify(got.body, got.headers)
        [delivery] = (await _detail(acct, endpoint["id"]))["deliveries"]
        assert delivery["status"] == "succeeded" and [a["statusCode"] for a in delivery["attemptLog"]] == [204]


async def test_rotation_signs_with_the_old_and_the_new_secret(open_settings: Settings) -> None:
    async with running(open_settings) as service:
        acct = await service.account()
        with Receiver() as receiver:
            endpoint = await _create(acct, receiver.url)
            r = await acct.request("POST", f"/v1/webhooks/{endpoint['id']}/rotate-secret")
            assert r.status_code == 200, r.text
            new = r.json()["data"]["secret"]
            assert new != endpoint["secret"] and new.startswith("whsec_")
            await acct.request("POST", f"/v1/webhooks/{endpoint['id']}/test")
            await deliver_due(service.runtime)
            # Once the overlap is over, only the new secret signs.
            async with service.runtime.unit_of_work() as session:
                await session.execute(
                    update(WebhookEndpoint)
                    .where(col(WebhookEndpoint.id) == endpoint["id"])
                    .values(previous_secret_expires_at=utcnow() - timedelta(seconds=1))
                )
            await acct.request("POST", f"/v1/webhooks/{endpoint['id']}/test")
            await deliver_due(service.runtime)
            during, after = receiver.received
        assert len(during.headers["webhook-signature"].split(" ")) == 2
        Webhook(endpoint["secret"]).verify(during.body, during.headers)
        Webhook(new).verify(during.body, during.headers)
        Webhook(new).verify(after.body, after.headers)
        with pytest.raises(WebhookVerificationError):
            Webhook(endpoint["secret"]).verify(after.body, after.headers)


async def test_retries_back_off_doubling_with_the_same_webhook_id(open_settings: Settings) -> None:
    async with running(open_settings) as service:
        acct = await service.account()
        with Receiver(lambda path, headers, body: 500) as receiver:
            endpoint = await _create(acct, receiver.url)
            await acct.request("POST", f"/v1/webhooks/{endpoint['id']}/test")
            for _ in range(3):
                async with service.runtime.unit_of_work() as session:  # due now, whatever the back-off
                    await session.execute(update(WebhookDelivery).values(next_attempt_at=utcnow()))
                await deliver_due(service.runtime)
            assert len({r.webhook_id for r in receiver.received}) == 1 and len(receiver.received) == 3
        [delivery] = await _deliveries(service, endpoint["id"])
        async with service.runtime.unit_of_work() as session:
            from dxgl.tables import WebhookAttempt

            attempts = list(
                (
                    await session.execute(
                        select(WebhookAttempt).where(col(WebhookAttempt.delivery_seq) == delivery.seq)
                    )
                ).scalars()
            )
        assert [a.status_code for a in attempts] == [500, 500, 500]
        # The last retry is booked base * 2^(attempts - 1) after the last attempt: 3600 * 4 s.
        assert delivery.next_attempt_at - attempts[-1].created_at == timedelta(hours=4)
        assert delivery.status == "pending" and delivery.attempts == 3


async def test_retries_stop_after_a_day_and_a_day_of_failures_disables(open_settings: Settings) -> None:
    async with running(open_settings) as service:
        acct = await service.account()
        with Receiver(lambda path, headers, body: 503) as receiver:
            endpoint = await _create(acct, receiver.url)
            await acct.request("POST", f"/v1/webhooks/{endpoint['id']}/test")
            async with service.runtime.unit_of_work() as session:  # as if the event were a day old
                day_ago = utcnow() - timedelta(days=1, minutes=1)
                await session.execute(update(WebhookDelivery).values(created_at=day_ago))
                await session.execute(
                    update(WebhookEndpoint)
                    .where(col(WebhookEndpoint.id) == endpoint["id"])
                    .values(failing_since=day_ago)
                )
            await deliver_due(service.runtime)
            assert len(receiver.received) == 1
        detail = await _detail(acct, endpoint["id"])
        assert detail["deliveries"][0]["status"] == "failed"
        assert detail["enabled"] is False and detail["disabledReason"].startswith("Every delivery has failed since")


async def test_410_disables_the_endpoint_and_redirects_are_not_followed(open_settings: Settings) -> None:
    async with running(open_settings) as service:
        acct = await service.account()
        with Receiver(lambda path, headers, body: 302) as moved, Receiver(lambda path, headers, body: 410) as gone:
            redirecting = await _create(acct, moved.url)
            vanished = await _create(acct, gone.url)
            for endpoint in (redirecting, vanished):
                await acct.request("POST", f"/v1/webhooks/{endpoint['id']}/test")
            await deliver_due(service.runtime)
            assert [r.path for r in moved.received] == ["/hook"]  # /elsewhere never asked
        [attempt] = (await _detail(acct, redirecting["id"]))["deliveries"][0]["attemptLog"]
        assert attempt["statusCode"] == 302 and attempt["error"] == "redirects are not followed"
        detail = await _detail(acct, vanished["id"])
        assert detail["enabled"] is False and detail["disabledReason"] == "The endpoint answered 410 Gone"
        assert detail["deliveries"][0]["status"] == "failed"
        # A disabled endpoint records no new events and sends nothing.
        await acct.upload(minimal_glb(b"after-410"))
        assert len(await _deliveries(service, vanished["id"])) == 1


async def test_one_renders_events_wait_for_the_earlier_one(open_settings: Settings) -> None:
    """render.status events of one render are sent in order: while the first is failing (and
    backing off), the second is not sent; another render's events are not held back."""
    answers = {"fail": True}

    def answer(path: str, headers: dict[str, str], body: bytes) -> int:
        return 500 if answers["fail"] and json.loads(body)["data"]["status"] == "pending" else 204

    async with running(open_settings) as service:
        acct = await service.account()
        with Receiver(answer) as receiver:
            await _create(acct, receiver.url, [webhooks.RENDER_STATUS])
            first = (await acct.upload(minimal_glb(b"order-1"))).json()["data"]["renderId"]
            async with service.runtime.unit_of_work() as session:
                await render_state.claim(session, first, lease_s=60, max_attempts=3)
            await deliver_due(service.runtime)
            assert [(r.event["data"]["status"], r.answered) for r in receiver.received] == [("pending", 500)]
            await deliver_due(service.runtime)  # the retry is not due yet: nothing else goes
            assert len(receiver.received) == 1
            answers["fail"] = False
            async with service.runtime.unit_of_work() as session:
                await session.execute(update(WebhookDelivery).values(next_attempt_at=utcnow()))
            await deliver_due(service.runtime)
            statuses = [(r.event["data"]["status"], r.answered) for r in receiver.received]
        assert statuses == [("pending", 500), ("pending", 204), (RenderStatus.POSTER_PROCESSING.value, 204)]


async def test_the_receiver_example_in_the_docs_verifies_a_real_delivery(open_settings: Settings) -> None:
    """docs/webhooks.md's Python example, run as written against a delivery dxgl really sent."""
    import re
    from pathlib import Path

    doc = (Path(__file__).parents[2] / "docs" / "webhooks.md").read_text()
    [example] = re.findall(r"```python\n(.*?)```", doc, re.S)
    async with running(open_settings) as service:
        acct = await service.account()
        with Receiver() as receiver:
            endpoint = await _create(acct, receiver.url)
            await acct.request("POST", f"/v1/webhooks/{endpoint['id']}/test")
            await deliver_due(service.runtime)
            [got] = receiver.received
    seen: list[str] = []
    recorded: list[tuple[str, Any]] = []
    scope: dict[str, Any] = {"already_seen": lambda i: i in seen, "record": lambda t, d: recorded.append((t, d))}
    exec(example.replace("whsec_...", endpoint["secret"]), scope)
    assert scope["handle"](got.body, got.headers) == 204
    assert recorded == [("webhook.test", json.loads(got.body)["data"])]
    assert scope["handle"](got.body + b" ", got.headers) == 400


async def test_every_answer_matches_the_openapi_document(open_settings: Settings) -> None:
    """The success answers of every webhook operation against /v1/openapi.json (the schemathesis
    run of test_openapi.py reaches only their error answers: it has no webhook ids)."""
    import jsonschema

    from dxgl.rest.openapi import DOCUMENT

    def check(method: str, path: str, response: Any) -> None:
        op = DOCUMENT["paths"][path][method]
        schema = op["responses"][str(response.status_code)]["content"]["application/json"]["schema"]
        jsonschema.Draft202012Validator({**schema, "components": DOCUMENT["components"]}).validate(response.json())

    async with running(open_settings) as service:
        acct = await service.account()
        with Receiver(lambda path, headers, body: 500) as receiver:
            r = await acct.request("POST", "/v1/webhooks", json={"url": receiver.url, "events": ALL_EVENTS})
            check("post", "/webhooks", r)
            endpoint_id = r.json()["data"]["id"]
            check("post", "/webhooks/{id}/test", await acct.request("POST", f"/v1/webhooks/{endpoint_id}/test"))
            await deliver_due(service.runtime)
            check("get", "/webhooks", await acct.request("GET", "/v1/webhooks"))
            detail = await acct.request("GET", f"/v1/webhooks/{endpoint_id}")
            assert detail.json()["data"]["deliveries"][0]["attemptLog"], detail.text
            check("get", "/webhooks/{id}", detail)
            r = await acct.request("PATCH", f"/v1/webhooks/{endpoint_id}", json={"enabled": False})
            check("patch", "/webhooks/{id}", r)
            r = await acct.request("POST", f"/v1/webhooks/{endpoint_id}/rotate-secret")
            check("post", "/webhooks/{id}/rotate-secret", r)
            check("delete", "/webhooks/{id}", await acct.request("DELETE", f"/v1/webhooks/{endpoint_id}"))
            check("get", "/webhooks/{id}", await acct.request("GET", f"/v1/webhooks/{endpoint_id}"))


async def test_embedded_deliveries_do_not_wait_behind_a_render(open_settings: Settings) -> None:
    """The embedded runner's render lane is busy (a render that does not end until the test says
    so); a webhook is still delivered, by the delivery task of its own."""
    import asyncio

    from dxgl.jobs.webhook_delivery import start_webhook_delivery

    release = asyncio.Event()
    started = asyncio.Event()

    async def endless_render(ids: list[str]) -> None:
        started.set()
        await release.wait()

    async with running(open_settings) as service:
        rt = service.runtime
        acct = await service.account()
        with Receiver() as receiver:
            endpoint = await _create(acct, receiver.url)
            rt.queue.run_with(endless_render)  # type: ignore[attr-defined]
            await rt.queue.enqueue(["busy"])
            await asyncio.wait_for(started.wait(), 60)
            start_webhook_delivery(rt)
            await acct.request("POST", f"/v1/webhooks/{endpoint['id']}/test")  # wakes the task after commit
            await until(lambda: receiver.received, what="the delivery beside a running render")
            assert not release.is_set()
            release.set()


async def test_finished_deliveries_are_pruned_after_the_retention(open_settings: Settings) -> None:
    async with running(open_settings) as service:
        acct = await service.account()
        with Receiver() as receiver:
            endpoint = await _create(acct, receiver.url)
            for _ in range(2):
                await acct.request("POST", f"/v1/webhooks/{endpoint['id']}/test")
            await deliver_due(service.runtime)
            await acct.request("POST", f"/v1/webhooks/{endpoint['id']}/test")  # stays pending
        old, recent, pending = await _deliveries(service, endpoint["id"])
        async with service.runtime.unit_of_work() as session:
            await session.execute(
                update(WebhookDelivery)
                .where(col(WebhookDelivery.seq) == old.seq)
                .values(completed_at=utcnow() - webhooks.RETENTION - timedelta(minutes=1))
            )
        async with service.runtime.unit_of_work() as session:
            assert await webhooks.prune_finished(session) == 1
        left = [d["id"] for d in (await _detail(acct, endpoint["id"]))["deliveries"]]
        assert left == [pending.message_id, recent.message_id]


async def test_create_with_an_idempotency_key_makes_one_endpoint(open_settings: Settings) -> None:
    """POST /v1/webhooks is a creating POST: a retry with the same key and body replays the first
    answer (the same endpoint and secret) and creates nothing; another body is a conflict."""
    async with running(open_settings) as service:
        acct = await service.account()
        body = {"url": "http://127.0.0.1:9/hook", "events": [webhooks.RENDER_DONE]}
        first = await acct.request("POST", "/v1/webhooks", json=body, headers={"Idempotency-Key": "hook-1"})
        again = await acct.request("POST", "/v1/webhooks", json=body, headers={"Idempotency-Key": "hook-1"})
        assert first.status_code == again.status_code == 201, (first.text, again.text)
        assert again.json() == first.json()
        listed = (await acct.request("GET", "/v1/webhooks")).json()["data"]
        assert [e["id"] for e in listed] == [first.json()["data"]["id"]]
        other = await acct.request(
            "POST", "/v1/webhooks", json={**body, "description": "x"}, headers={"Idempotency-Key": "hook-1"}
        )
        assert_error(other, 409, "idempotency_conflict")


async def test_one_event_failing_through_its_whole_window_disables(open_settings: Settings) -> None:
    """With one event only, the last retry falls a little short of a day after the first failure:
    giving that event up, with no success since its first attempt, is a day of failures too."""
    async with running(open_settings) as service:
        acct = await service.account()
        with Receiver(lambda path, headers, body: 503) as receiver:
            endpoint = await _create(acct, receiver.url)
            await acct.request("POST", f"/v1/webhooks/{endpoint['id']}/test")
            await deliver_due(service.runtime)  # the first attempt fails
            from dxgl.tables import WebhookAttempt

            async with service.runtime.unit_of_work() as session:  # as if that was 23 h ago
                hours_ago = utcnow() - timedelta(hours=23)
                await session.execute(update(WebhookDelivery).values(created_at=hours_ago, next_attempt_at=utcnow()))
                await session.execute(update(WebhookAttempt).values(created_at=hours_ago))
                await session.execute(
                    update(WebhookEndpoint)
                    .where(col(WebhookEndpoint.id) == endpoint["id"])
                    .values(failing_since=hours_ago)
                )
            await deliver_due(service.runtime)  # the retry after it would fall past a day: given up
            assert len(receiver.received) == 2
        detail = await _detail(acct, endpoint["id"])
        assert detail["deliveries"][0]["status"] == "failed"
        assert detail["enabled"] is False and detail["disabledReason"].startswith("Every delivery has failed since")
