"""Webhooks on the Redis deployment: the API (PostgreSQL, arq queue) hands deliveries to the
webhook queue after the commit, and a real ``dxgl worker`` process (its webhook worker, beside the
render worker) delivers them, retrying through a deferred arq job after a 500."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from standardwebhooks import Webhook

from dxgl.services import webhooks
from tests.api.test_webhooks_support import Receiver, until
from tests.conftest import running_service as running
from tests.pipeline.conftest import PIPELINE_REDIS, Worker, flush_redis, pipeline_settings

pytestmark = [pytest.mark.slow]


async def test_the_worker_delivers_and_retries_from_the_webhook_queue(tmp_path: Path, postgres_url: str) -> None:
    flush_redis(PIPELINE_REDIS)
    settings = pipeline_settings(tmp_path, postgres_url, redis_url=PIPELINE_REDIS, webhook_allow_private=True)
    answers = iter([500])
    lock = threading.Lock()

    def answer(path: str, headers: dict[str, str], body: bytes) -> int:
        with lock:
            return next(answers, 204)

    worker = Worker(settings, tmp_path / "worker.log")
    worker.env.update(DXGL_WEBHOOK_ALLOW_PRIVATE="true", DXGL_WEBHOOK_RETRY_BASE_SECONDS="0.2")
    log_path = tmp_path / "worker.log"
    with Receiver(answer) as receiver, worker:
        # Both workers up, and the webhook worker's start-up sweep done: the retry below comes
        # from the job its failure books on the webhook queue.
        await until(lambda: log_path.read_text().count("cron:deliver_webhooks ●") >= 1, what="the worker start")
        async with running(settings) as service:
            acct = await service.account()
            r = await acct.request("POST", "/v1/webhooks", json={"url": receiver.url, "events": [webhooks.RENDER_DONE]})
            endpoint = r.json()["data"]
            sent = (await acct.request("POST", f"/v1/webhooks/{endpoint['id']}/test")).json()["data"]
            await until(lambda: len(receiver.received) >= 2, limit_s=180, what="the retried test event")

            async def recorded() -> dict | None:
                detail = (await acct.request("GET", f"/v1/webhooks/{endpoint['id']}")).json()["data"]
                return detail if detail["deliveries"][0]["status"] == "succeeded" else None

            detail = await until(recorded, what="the success recorded")
    first, again = receiver.received[:2]
    assert (first.answered, again.answered) == (500, 204)
    assert first.webhook_id == again.webhook_id == sent["id"]
    Webhook(endpoint["secret"]).verify(again.body, again.headers)
    assert [a["statusCode"] for a in detail["deliveries"][0]["attemptLog"]] == [500, 204]
    log = log_path.read_text()
    assert "attempt 1: 500" in log and "attempt 2: 204" in log  # sent by the worker process
    assert "→ dxgl-webhooks-at-" in log  # the retry booked as a deferred job on the webhook queue
