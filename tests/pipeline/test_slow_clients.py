"""A slow client costs only its own connection (issue 11, finding 1).

Clients with a read-only token send their headers and the start of a body on every body-reading
route (REST and GraphQL), then stop sending. While they hang there, another account uses the
service: its requests, ``/v1/health`` and a render all succeed. Before the fix, a route that read
its body inside the authenticating transaction held SQLite's write lock (or, on PostgreSQL, one of
the pool's 30 connections) for as long as the client liked: everybody else got ``500 internal``
after 30 s. At the end each slow client finishes its body and gets its ordinary answer, which shows
it was still being waited on the whole time.
"""

from __future__ import annotations

import io
import json
import time
import uuid

import httpx
import pytest

from dxgl.runtime import Runtime
from dxgl.services import accounts, auth
from tests.api.helpers import minimal_glb
from tests.live_server import SlowClient
from tests.pipeline.conftest import pipeline_settings

pytestmark = [pytest.mark.render, pytest.mark.slow]

HANG_GUARD_S = 300  # only against a hung test
COPIES = 10  # per JSON route: the 4 that authenticate first hold 40 requests, more than the pool of 30
READ_ONLY = ["models:read", "renders:read"]


def _multipart(boundary: str, fields: dict[str, str], file_name: str, content: bytes) -> bytes:
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{file_name}"\r\n\r\n'.encode()
        + content
        + b"\r\n"
    )
    return b"".join(parts) + f"--{boundary}--\r\n".encode()


def _png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 32), (10, 200, 10)).save(buffer, format="PNG")
    return buffer.getvalue()


async def _account(rt: Runtime, *, scopes: list[str] | None = None, credits: int = 20) -> tuple[str, str]:
    async with rt.unit_of_work() as session:
        account = await accounts.create_account(
            session, email=f"slow-{uuid.uuid4().hex[:10]}@example.com", paid_credits=credits, free_credits=0
        )
        _, token = await auth.create_token(session, account=account, scopes=scopes)
    return account.id, token


async def test_slow_bodies_never_hold_up_other_accounts(tmp_path, database_url, live_server, assets):
    # The server's own body timeout is far beyond the test: the slow clients stay until finished.
    # Rate limits off: the other account polls as fast as it can to catch any stall, far above
    # what a client is allowed (the limits have their own tests, tests/api/test_rate_limits.py).
    settings = pipeline_settings(tmp_path, database_url, body_timeout_seconds=3600, rate_limit_rps=0)
    server = live_server(settings)
    rt = await Runtime.start(settings, migrate=False)  # the test's own (the server's runs on its loop)
    try:
        _, slow_token = await _account(rt, scopes=READ_ONLY)
        _, slow_writer = await _account(rt)  # a legitimate, slow upload
        _, token = await _account(rt)
    finally:
        await rt.close()
    headers = {"Authorization": f"Bearer {token}"}

    async with httpx.AsyncClient(base_url=server.url, timeout=120) as client:
        own = await client.post("/v1/models", headers=headers, files={"file": ("own.glb", minimal_glb(b"slow-own"))})
        assert own.status_code == 201, own.text
        model_id = own.json()["data"]["modelId"]

        jsons = {
            "PATCH /v1/models/:id": ("PATCH", f"/v1/models/{model_id}", {"title": "x"}),
            "POST /v1/models/check-hash": ("POST", "/v1/models/check-hash", {"sha256": "0" * 64}),
            "POST /v1/renders": ("POST", "/v1/renders", {"modelId": model_id}),
            "POST /v1/renders/batch": ("POST", "/v1/renders/batch", {"renders": [{"modelId": model_id}]}),
            "POST /v1/models/ingest": ("POST", "/v1/models/ingest", {"url": "https://example.com/m.glb"}),
        }
        slow: list[SlowClient] = []
        for name, (method, path, body) in jsons.items():
            payload = json.dumps(body).encode() + b" " * 64
            for i in range(COPIES):
                slow.append(
                    await SlowClient.start(
                        server.port, f"{name}#{i}", method, path, slow_token, "application/json", payload
                    )
                )
        mutation = 'mutation($id: ID!) { updateModel(id: $id, title: "x") { id } }'
        gql = json.dumps({"query": mutation, "variables": {"id": model_id}}).encode()
        for i in range(COPIES):
            slow.append(
                await SlowClient.start(
                    server.port, f"POST /graphql#{i}", "POST", "/graphql", slow_token, "application/json", gql
                )
            )
        boundary = "slowclientboundary"
        upload = _multipart(boundary, {}, "slow.glb", minimal_glb(b"slow-upload"))
        overlay = _multipart(boundary, {"name": "slow"}, "slow.png", _png())
        multipart = f"multipart/form-data; boundary={boundary}"
        for name, path, who, body in [
            ("upload read-only", "/v1/models", slow_token, upload),
            ("upload", "/v1/models", slow_writer, upload),
            ("overlay", "/v1/overlays", slow_writer, overlay),
        ]:
            slow.append(await SlowClient.start(server.port, name, "POST", path, who, multipart, body))

        # Meanwhile: another account's reads and writes, health, and a whole render.
        duck = (assets / "Duck.glb").read_bytes()
        r = await client.post("/v1/models", headers=headers, files={"file": ("duck.glb", duck)})
        assert r.status_code == 201, r.text
        render_id = r.json()["data"]["renderId"]
        answered: list[int] = []
        status = "pending"
        deadline = time.monotonic() + HANG_GUARD_S
        while status not in ("done", "error"):
            assert time.monotonic() < deadline, f"render stuck in {status}"
            for method, url, kwargs in [
                ("GET", "/v1/account", {}),
                ("GET", "/v1/health", {}),
                ("PATCH", f"/v1/models/{model_id}", {"json": {"title": f"t{len(answered)}"}}),
                ("GET", "/v1/models", {}),
            ]:
                response = await client.request(method, url, headers=headers, **kwargs)
                assert response.status_code == 200, (method, url, response.status_code, response.text)
                answered.append(response.status_code)
            status = (await client.get(f"/v1/renders/{render_id}", headers=headers)).json()["data"]["status"]
        assert status == "done"
        gql_ok = await client.post("/graphql", headers=headers, json={"query": "{ account { id credits } }"})
        assert gql_ok.status_code == 200 and "errors" not in gql_ok.json(), gql_ok.text

        # The slow clients were waited on all along: each gets its ordinary answer now.
        outcomes = {c.name: await c.finish() for c in slow}
    for name, (code, body) in outcomes.items():
        assert code < 500, (name, code, body[:300])
        if name.startswith(("PATCH", "POST /v1/renders", "POST /v1/models/ingest", "upload read-only")):
            assert code == 403 and json.loads(body)["error"]["code"] == "insufficient_scope", (name, body)
        elif name.startswith("POST /v1/models/check-hash"):
            assert code == 200 and json.loads(body)["data"]["exists"] is False, (name, body)
        elif name.startswith("POST /graphql"):
            assert json.loads(body)["errors"][0]["extensions"]["code"] == "insufficient_scope", (name, body)
        else:  # the slow but legitimate uploads went through
            assert code in (200, 201), (name, body)
