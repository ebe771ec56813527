"""Idempotency-Key on the creating POSTs (docs/api.md, "Idempotent requests"), on SQLite and
PostgreSQL (the ``service`` fixture): a retry replays the first response without doing the work
again, another body is 409 idempotency_conflict, concurrent requests run once."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

from sqlalchemy import func, select

from dxgl.tables import IdempotencyRecord, LedgerEntry, Model3D, Overlay, Render
from tests.api.helpers import assert_error, minimal_glb

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82"
)


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


async def _count(service, table, account_id: str) -> int:
    async with service.runtime.unit_of_work() as s:
        return (await s.execute(select(func.count()).where(table.account_id == account_id))).scalar_one()


async def _charges(service, account_id: str) -> int:
    async with service.runtime.unit_of_work() as s:
        return (
            await s.execute(
                select(func.count()).where(LedgerEntry.account_id == account_id, LedgerEntry.kind == "charge")
            )
        ).scalar_one()


async def test_twenty_concurrent_renders_with_one_key_make_one_render(service):
    owner = await service.account(credits=50)
    model_id = (await owner.upload(minimal_glb(b"idem"))).json()["data"]["modelId"]
    renders, charges = await _count(service, Render, owner.id), await _charges(service, owner.id)
    headers = key()
    body = {"modelId": model_id, "renderSettings": {"quality": "standard", "length": 6}}

    responses = await asyncio.gather(
        *(owner.request("POST", "/v1/renders", json=body, headers=headers) for _ in range(20))
    )
    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}, statuses
    assert statuses[201] >= 1
    for r in responses:
        if r.status_code == 409:  # only "still in progress" (documented), never another outcome
            assert_error(r, 409, "idempotency_conflict")
    assert len({r.content for r in responses if r.status_code == 201}) == 1  # identical bodies
    assert await _count(service, Render, owner.id) == renders + 1
    assert await _charges(service, owner.id) == charges + 1
    account = (await owner.request("GET", "/v1/account")).json()["data"]
    assert account["credits"] == 50 - 2

    # a retry later replays the first response, flagged
    again = await owner.request("POST", "/v1/renders", json=body, headers=headers)
    assert again.status_code == 201
    assert again.content == next(r.content for r in responses if r.status_code == 201)
    assert again.headers["idempotent-replayed"] == "true"
    # the same JSON with keys in another order and other spacing is the same request
    reordered = b'{ "renderSettings": {"length": 6, "quality": "standard"}, "modelId": "%s" }' % model_id.encode()
    same = await owner.request(
        "POST", "/v1/renders", content=reordered, headers={**headers, "Content-Type": "application/json"}
    )
    assert same.status_code == 201 and same.content == again.content
    assert await _count(service, Render, owner.id) == renders + 1


async def test_another_body_with_the_key_is_a_conflict(service):
    owner = await service.account(credits=20)
    model_id = (await owner.upload(minimal_glb(b"idem-conflict"))).json()["data"]["modelId"]
    headers = key()
    first = await owner.request("POST", "/v1/renders", json={"modelId": model_id}, headers=headers)
    assert first.status_code == 201
    other = await owner.request(
        "POST", "/v1/renders", json={"modelId": model_id, "renderSettings": {"length": 8}}, headers=headers
    )
    assert_error(other, 409, "idempotency_conflict")
    # the same key on another endpoint is another request too
    batch = await owner.request("POST", "/v1/renders/batch", json={"renders": [{"modelId": model_id}]}, headers=headers)
    assert_error(batch, 409, "idempotency_conflict")
    assert await _count(service, Render, owner.id) == 2  # the upload's and the first


async def test_keys_are_per_account(service):
    alice, bob = await service.account(credits=5), await service.account(credits=5)
    a_model = (await alice.upload(minimal_glb(b"idem-a"))).json()["data"]["modelId"]
    b_model = (await bob.upload(minimal_glb(b"idem-b"))).json()["data"]["modelId"]
    headers = key()
    ra = await alice.request("POST", "/v1/renders", json={"modelId": a_model}, headers=headers)
    rb = await bob.request("POST", "/v1/renders", json={"modelId": b_model}, headers=headers)
    assert (ra.status_code, rb.status_code) == (201, 201)
    assert ra.json()["data"]["id"] != rb.json()["data"]["id"]


async def test_a_failed_request_releases_its_key(service):
    owner = await service.account(credits=1)
    model_id = (await owner.upload(minimal_glb(b"idem-fail"))).json()["data"]["modelId"]  # 0 left
    headers = key()
    body = {"modelId": model_id}
    assert_error(await owner.request("POST", "/v1/renders", json=body, headers=headers), 402, "no_credits")
    assert await _count(service, IdempotencyRecord, owner.id) == 0
    await _grant(service, owner.id)
    retried = await owner.request("POST", "/v1/renders", json=body, headers=headers)
    assert retried.status_code == 201, retried.text


async def _grant(service, account_id: str) -> None:
    from dxgl.services import accounts
    from dxgl.tables import Account

    async with service.runtime.unit_of_work() as s:
        await accounts.grant_credits(s, account=await s.get_one(Account, account_id), paid=3)


async def test_batch_is_idempotent(service):
    owner = await service.account(credits=20)
    model_id = (await owner.upload(minimal_glb(b"idem-batch"))).json()["data"]["modelId"]
    headers = key()
    body = {"renders": [{"modelId": model_id}, {"modelId": model_id, "renderSettings": {"aspect": "1:1"}}]}
    first = await owner.request("POST", "/v1/renders/batch", json=body, headers=headers)
    second = await owner.request("POST", "/v1/renders/batch", json=body, headers=headers)
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.content == second.content
    assert await _count(service, Render, owner.id) == 3


async def test_multipart_upload_retry_is_the_same_request(service):
    """httpx draws a new multipart boundary per request: the file's SHA-256 and the fields decide."""
    owner = await service.account(credits=10)
    headers = key()
    glb = minimal_glb(b"idem-upload")

    async def upload(content: bytes, settings: str = '{"length": 4}'):
        return await owner.request(
            "POST",
            "/v1/models",
            files={"file": ("m.glb", content, "application/octet-stream")},
            data={"renderSettings": settings},
            headers=headers,
        )

    first, second = await upload(glb), await upload(glb)
    assert (first.status_code, second.status_code) == (201, 201), second.text
    assert first.content == second.content
    assert "duplicate" not in second.json()["data"]
    assert await _count(service, Model3D, owner.id) == 1
    assert await _count(service, Render, owner.id) == 1
    assert_error(await upload(minimal_glb(b"idem-upload-2")), 409, "idempotency_conflict")
    assert_error(await upload(glb, '{"length": 5}'), 409, "idempotency_conflict")
    assert await _count(service, Model3D, owner.id) == 1


async def test_ingest_and_overlay_uploads_take_a_key(service):
    owner = await service.account(credits=10)
    headers = key()
    files = {"file": ("bg.png", PNG, "image/png")}
    first = await owner.request("POST", "/v1/overlays", files=files, data={"name": "bg"}, headers=headers)
    second = await owner.request("POST", "/v1/overlays", files=files, data={"name": "bg"}, headers=headers)
    assert first.status_code == second.status_code == 200, first.text
    assert first.content == second.content
    assert await _count(service, Overlay, owner.id) == 1
    # ingest: a refused URL releases the key (nothing done), the fingerprint is the JSON body
    ingest_key = key()
    body = {"url": "http://127.0.0.1/model.glb"}
    refused = await owner.request("POST", "/v1/models/ingest", json=body, headers=ingest_key)
    assert refused.status_code == 400, refused.text
    again = await owner.request("POST", "/v1/models/ingest", json=body, headers=ingest_key)
    assert again.status_code == 400 and again.json() == refused.json()


async def test_malformed_keys_are_refused(service):
    owner = await service.account(credits=5)
    model_id = (await owner.upload(minimal_glb(b"idem-keys"))).json()["data"]["modelId"]
    for bad in (b"", b"x" * 256, b"has space", "caf\u00e9".encode()):
        r = await owner.request("POST", "/v1/renders", json={"modelId": model_id}, headers={"Idempotency-Key": bad})
        assert_error(r, 400, "invalid_request")
    assert await _count(service, Render, owner.id) == 1
