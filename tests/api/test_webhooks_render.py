"""The acceptance run: a real receiver on 127.0.0.1 (allowed by DXGL_WEBHOOK_ALLOW_PRIVATE), a
webhook, a real render of Duck.glb by the embedded runner (160 px, 1 s), and every delivery
verified with the ``standardwebhooks`` package. The receiver answers 500 to the first
``render.done``: it comes again with the same ``webhook-id`` and is counted once."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from dxgl.contract import TRANSITIONS, RenderStatus
from dxgl.services import webhooks
from tests.api.test_webhooks_support import Receiver, until
from tests.conftest import running_service as running
from tests.pipeline.conftest import pipeline_settings, wait_for_status

pytestmark = [pytest.mark.render, pytest.mark.slow]


class FailFirstDone:
    """Answers 500 to the first request of each render.done message, 204 to everything else."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.lock = threading.Lock()

    def __call__(self, path: str, headers: dict[str, str], body: bytes) -> int:
        with self.lock:
            if b'"type":"render.done"' in body and headers["webhook-id"] not in self.seen:
                self.seen.add(headers["webhook-id"])
                return 500
            return 204


async def test_a_render_delivers_signed_ordered_events_and_retries_done(
    tmp_path: Path, database_url: str, duck: Path
) -> None:
    settings = pipeline_settings(
        tmp_path,
        database_url,
        webhook_allow_private=True,
        webhook_retry_base_seconds=0.2,
        system_preview=True,  # its events must not be sent
    )
    with Receiver(FailFirstDone()) as receiver:
        async with running(settings) as service:
            acct = await service.account(credits=5)
            r = await acct.request(
                "POST", "/v1/webhooks", json={"url": receiver.url, "events": list(webhooks.EVENT_TYPES)}
            )
            assert r.status_code == 201, r.text
            endpoint = r.json()["data"]
            r = await acct.upload(duck, name="Duck.glb")
            assert r.status_code == 201, r.text
            model_id, render_id = r.json()["data"]["modelId"], r.json()["data"]["renderId"]
            done = await wait_for_status(service.client, acct.headers, render_id, {"done", "error"})
            assert done["status"] == "done", done
            await until(
                lambda: [r for r in receiver.of_type("render.done") if r.answered == 204], what="render.done delivered"
            )
            detail = (await acct.request("GET", f"/v1/webhooks/{endpoint['id']}")).json()["data"]
            previews = (await acct.request("GET", "/v1/renders?systemPreview=true")).json()["data"]

    received = list(receiver.received)
    verifier = Webhook(endpoint["secret"])
    events = [verifier.verify(r.body, r.headers) for r in received]  # every delivery verifies
    assert all(set(e) == {"type", "timestamp", "data"} for e in events)

    # The status events of the render, in order: every transition allowed by the contract.
    statuses = [e["data"]["status"] for e in events if e["type"] == "render.status" and e["data"]["id"] == render_id]
    assert statuses[0] == RenderStatus.PENDING.value and statuses[-1] == RenderStatus.DONE.value
    for before, after in zip(statuses, statuses[1:]):
        assert RenderStatus(after) in TRANSITIONS[RenderStatus(before)], statuses
    assert RenderStatus.VIDEO_PROCESSING.value in statuses

    # render.done: answered 500 once, sent again with the same webhook-id, counted once.
    dones = receiver.of_type("render.done")
    assert [d.answered for d in dones] == [500, 204]
    assert len({d.webhook_id for d in dones}) == 1
    assert dones[0].body == dones[1].body
    assert verifier.verify(dones[1].body, dones[1].headers)["data"] == done
    [logged] = [d for d in detail["deliveries"] if d["type"] == "render.done"]
    assert logged["id"] == dones[0].webhook_id and logged["status"] == "succeeded" and logged["attempts"] == 2
    assert [a["statusCode"] for a in logged["attemptLog"]] == [500, 204]
    # Nothing after render.status done of this render went before it.
    order = [(e["type"], e["data"].get("status")) for e in events if e["data"].get("id") == render_id]
    assert order.index(("render.done", "done")) > order.index(("render.status", "done"))

    # model.created once; the system preview sent nothing.
    assert [e["data"]["id"] for e in events if e["type"] == "model.created"] == [model_id]
    [preview] = previews
    assert all(e["data"].get("id") != preview["id"] and not e["data"].get("isSystemPreview") for e in events)

    # A tampered body fails verification.
    tampered = dones[1].body.replace(b'"status":"done"', b'"status":"error"')
    assert tampered != dones[1].body
    with pytest.raises(WebhookVerificationError):
        verifier.verify(tampered, dones[1].headers)
