"""GraphQL ``quote`` (the same answer as POST /v1/quote) and ``idempotencyKey`` on the creating
mutations (the same meaning as REST's Idempotency-Key), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import uuid

from sqlalchemy import func, select

from dxgl.tables import Model3D, Overlay, Render
from tests.api.helpers import minimal_glb
from tests.api.test_overlays import image_bytes
from tests.api.test_quote import MIXED
from tests.graphql.conftest import error_codes, gql, gql_upload
from tests.ingest.counting_server import CountingServer

QUOTE = """
query($modelId: ID, $settings: RenderSettingsInput, $renders: [RenderRequest!]) {
  quote(modelId: $modelId, renderSettings: $settings, renders: $renders) {
    credits sufficient balance { paid free } items { modelId credits paidBy watermark }
  }
}
"""
CREATE = """
mutation($modelId: ID, $settings: RenderSettingsInput, $key: String) {
  createRender(modelId: $modelId, renderSettings: $settings, idempotencyKey: $key) { id status createdAt }
}
"""
BATCH = """
mutation($renders: [RenderRequest!], $key: String) {
  createRenderBatch(renders: $renders, idempotencyKey: $key) { id }
}
"""
UPLOAD_OVERLAY = """
mutation($file: Upload!, $name: String, $key: String) {
  uploadOverlay(file: $file, name: $name, idempotencyKey: $key) { id layer alignment name system width height createdAt }
}
"""


async def upload_overlay(account, content: bytes, **variables) -> dict:
    operations = {"query": UPLOAD_OVERLAY, "variables": {"file": None, **variables}}
    response = await account.request(
        "POST",
        "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.file"]})},
        files={"0": ("o.png", content, "application/octet-stream")},
    )
    assert response.status_code == 200, response.text
    return response.json()


def _graphql_items(model_id: str) -> list[dict]:
    return [
        {"modelId": model_id, "renderSettings": {"quality": "Q4K"}},
        {"modelId": model_id, "renderSettings": {"quality": "STANDARD"}},
        {"modelId": model_id, "renderSettings": {"quality": "STANDARD", "aspect": "R1_1"}},
        {"modelId": model_id, "renderSettings": {"effect": "DATASET", "datasetQuality": "Q100X800"}},
        {"modelId": model_id},
    ]


async def _count(service, table, account_id: str) -> int:
    async with service.runtime.unit_of_work() as s:
        return (await s.execute(select(func.count()).where(table.account_id == account_id))).scalar_one()


async def test_quote_is_the_rest_quote(service):
    owner = await service.account(credits=6, free=3)
    model_id = (await owner.upload(minimal_glb(b"gql-quote"))).json()["data"]["modelId"]
    rest = (
        await owner.request("POST", "/v1/quote", json={"renders": [{"modelId": model_id, **i} for i in MIXED]})
    ).json()["data"]
    result = await gql(owner, QUOTE, {"renders": _graphql_items(model_id)})
    assert "errors" not in result, result
    assert result["data"]["quote"] == rest
    single = await gql(owner, QUOTE, {"modelId": model_id, "settings": {"quality": "PRO"}})
    assert single["data"]["quote"]["credits"] == 16 and single["data"]["quote"]["sufficient"] is False
    assert error_codes(await gql(owner, QUOTE, {"modelId": "nosuchmodel0"})) == ["model_not_found"]
    assert error_codes(await gql(owner, QUOTE, {"renders": []})) == ["renders_required"]
    assert await _count(service, Render, owner.id) == 1


async def test_create_render_with_a_key_runs_once(service):
    owner = await service.account(credits=30)
    model_id = (await owner.upload(minimal_glb(b"gql-idem"))).json()["data"]["modelId"]
    variables = {"modelId": model_id, "settings": {"length": 6}, "key": str(uuid.uuid4())}
    results = await asyncio.gather(*(gql(owner, CREATE, variables) for _ in range(8)))
    answered = [r["data"]["createRender"] for r in results if not r.get("errors")]
    assert answered and all(error_codes(r) == ["idempotency_conflict"] for r in results if r.get("errors"))
    assert len({(a["id"], a["createdAt"]) for a in answered}) == 1
    assert await _count(service, Render, owner.id) == 2  # the upload's and this one
    other = await gql(owner, CREATE, {**variables, "settings": {"length": 7}})
    assert error_codes(other) == ["idempotency_conflict"]
    assert error_codes(await gql(owner, CREATE, {**variables, "key": "has space"})) == ["invalid_request"]
    # without a key every call creates
    await gql(owner, CREATE, {"modelId": model_id})
    await gql(owner, CREATE, {"modelId": model_id})
    assert await _count(service, Render, owner.id) == 4


async def test_batch_and_overlay_upload_take_a_key(service):
    owner = await service.account(credits=30)
    model_id = (await owner.upload(minimal_glb(b"gql-idem-batch"))).json()["data"]["modelId"]
    variables = {"renders": [{"modelId": model_id}, {"modelId": model_id}], "key": str(uuid.uuid4())}
    first, second = await gql(owner, BATCH, variables), await gql(owner, BATCH, variables)
    assert first["data"] == second["data"] and len(first["data"]["createRenderBatch"]) == 2
    assert await _count(service, Render, owner.id) == 3

    key = str(uuid.uuid4())
    image = image_bytes(size=(8, 8))
    one = await upload_overlay(owner, image, name="bg", key=key)
    two = await upload_overlay(owner, image, name="bg", key=key)
    assert "errors" not in one, one
    assert one == two
    assert await _count(service, Overlay, owner.id) == 1
    assert error_codes(await upload_overlay(owner, image, name="other", key=key)) == ["idempotency_conflict"]


async def test_ingest_takes_a_key(service):
    service.runtime.settings.ingest_allow_private = True
    owner = await service.account(credits=5)
    ingest = """
    mutation($url: String, $key: String) {
      ingestModel(url: $url, idempotencyKey: $key) { duplicate model { id sha256 inspection { triangles } } render { id } }
    }
    """
    with CountingServer() as listener:
        variables = {"url": f"http://127.0.0.1:{listener.port}/model.glb", "key": str(uuid.uuid4())}
        first, second = await gql(owner, ingest, variables), await gql(owner, ingest, variables)
        assert "errors" not in first, first
        assert first == second
        assert listener.accepted == 1  # the retry did not download again
    assert await _count(service, Model3D, owner.id) == 1
    assert await _count(service, Render, owner.id) == 1


async def test_upload_model_takes_a_key(service):
    """The same file, name and settings with one key: the first answer again, one model, one
    render, one charge; another file with that key is a conflict."""
    owner = await service.account(credits=30)
    key = str(uuid.uuid4())
    content = minimal_glb(b"gql-idem-upload")
    first = await gql_upload(owner, content, name="a.glb", settings={"length": 4}, key=key)
    again = await gql_upload(owner, content, name="a.glb", settings={"length": 4}, key=key)
    assert "errors" not in first, first
    assert again == first and first["data"]["uploadModel"]["duplicate"] is False
    assert await _count(service, Model3D, owner.id) == 1
    assert await _count(service, Render, owner.id) == 1
    other = await gql_upload(owner, minimal_glb(b"another"), name="a.glb", settings={"length": 4}, key=key)
    assert error_codes(other) == ["idempotency_conflict"]
    assert await _count(service, Model3D, owner.id) == 1
