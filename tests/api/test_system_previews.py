"""The free system preview of every upload (docs/api.md, "System previews"), on SQLite and
PostgreSQL, renders kept pending (tests/pipeline renders them): what is created, charged, flagged,
queued first, filtered, deleted, and what a model marked broken does to its paid renders."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlmodel import col

from dxgl.queue import EmbeddedQueue
from dxgl.services import render_state
from dxgl.services.render_settings import system_preview_settings
from dxgl.tables import LedgerEntry, Model3D, Render
from tests.api.helpers import assert_error, minimal_glb
from tests.graphql.conftest import gql
from tests.ingest.counting_server import CountingServer


async def _rows(service, model_id: str) -> list[Render]:
    async with service.runtime.unit_of_work() as s:
        return list((await s.execute(select(Render).where(col(Render.model_id) == model_id))).scalars())


async def _ledger(service, render_id: str) -> list[tuple[str, int, int]]:
    async with service.runtime.unit_of_work() as s:
        rows = (await s.execute(select(LedgerEntry).where(col(LedgerEntry.render_id) == render_id))).scalars()
        return sorted((r.kind, r.paid_delta, r.free_delta) for r in rows)


async def _credits(acct) -> dict:
    return (await acct.request("GET", "/v1/account")).json()["data"]


def _previews_on(service) -> None:
    service.runtime.settings.system_preview = True


async def test_upload_makes_a_free_unwatermarked_preview_queued_first(service):
    _previews_on(service)
    acct = await service.account(credits=0, free=2)  # free credits: the first render is watermarked
    r = await acct.upload(minimal_glb(b"preview"), settings={"length": 5})
    assert r.status_code == 201, r.text
    data = r.json()["data"]
    assert set(data) == {"modelId", "renderId"}  # the documented answer, unchanged
    rows = {row.id: row for row in await _rows(service, data["modelId"])}
    assert len(rows) == 2
    first = rows.pop(data["renderId"])
    (preview,) = rows.values()
    assert preview.is_system_preview and not first.is_system_preview
    assert first.watermark and first.cost == 1 and first.free_credits_used == 1
    assert not preview.watermark and preview.cost == 0
    assert preview.paid_credits_used == 0 and preview.free_credits_used == 0
    # The fixed preview settings, plus the camera elevation chosen from the model (an upright triangle).
    assert preview.settings == {**system_preview_settings(), "elevation": 12.0}
    assert preview.settings["length"] == 3 and preview.settings["effect"] == "turntable"
    assert await _ledger(service, preview.id) == []  # no charge row
    assert await _ledger(service, first.id) == [("charge", 0, -1)]
    assert (await _credits(acct))["freeCredits"] == 1  # the preview cost nothing

    # Exposed on the render JSON and in the model detail, flagged.
    got = (await acct.request("GET", f"/v1/renders/{preview.id}")).json()["data"]
    assert got["isSystemPreview"] is True and got["status"] == "pending"
    assert (await acct.request("GET", f"/v1/renders/{first.id}")).json()["data"]["isSystemPreview"] is False
    detail = (await acct.request("GET", f"/v1/models/{data['modelId']}")).json()["data"]
    assert {x["id"]: x["isSystemPreview"] for x in detail["renders"]} == {preview.id: True, first.id: False}

    # Queued first: the preview's job is ahead of the first render's (the runner is off here).
    queue = service.runtime.queue
    assert isinstance(queue, EmbeddedQueue)
    queued = []
    while not queue.pending.empty():
        queued.append(queue.pending.get_nowait())
    assert queued == [[preview.id], [first.id]]


async def test_duplicate_upload_makes_no_second_preview(service):
    _previews_on(service)
    acct = await service.account(credits=5)
    first = (await acct.upload(minimal_glb(b"dup"))).json()["data"]
    again = await acct.upload(minimal_glb(b"dup"))
    assert again.status_code == 201 and again.json()["data"]["duplicate"] is True
    rows = await _rows(service, first["modelId"])
    assert len(rows) == 3
    assert sum(r.is_system_preview for r in rows) == 1
    assert (await _credits(acct))["credits"] == 3


async def test_previews_off_make_none(service):
    service.runtime.settings.system_preview = False
    acct = await service.account(credits=5)
    data = (await acct.upload(minimal_glb(b"off"))).json()["data"]
    assert [r.id for r in await _rows(service, data["modelId"])] == [data["renderId"]]


async def test_url_ingest_makes_a_preview(service):
    _previews_on(service)
    service.runtime.settings.ingest_allow_private = True
    acct = await service.account(credits=5)
    with CountingServer() as listener:
        r = await acct.request("POST", "/v1/models/ingest", json={"url": f"http://127.0.0.1:{listener.port}/model.glb"})
    assert r.status_code == 201, r.text
    rows = await _rows(service, r.json()["data"]["modelId"])
    assert sorted(x.is_system_preview for x in rows) == [False, True]


async def test_system_preview_filter_rest_and_graphql(service):
    _previews_on(service)
    acct = await service.account(credits=5)
    data = (await acct.upload(minimal_glb(b"filter"))).json()["data"]
    preview_id = next(r.id for r in await _rows(service, data["modelId"]) if r.is_system_preview)

    everything = (await acct.request("GET", "/v1/renders")).json()
    assert everything["meta"]["total"] == 2  # default: included, flagged
    assert {r["id"]: r["isSystemPreview"] for r in everything["data"]} == {
        preview_id: True,
        data["renderId"]: False,
    }
    without = (await acct.request("GET", "/v1/renders?systemPreview=false")).json()
    assert [r["id"] for r in without["data"]] == [data["renderId"]] and without["meta"]["total"] == 1
    only = (await acct.request("GET", f"/v1/renders?systemPreview=true&model={data['modelId']}")).json()
    assert [r["id"] for r in only["data"]] == [preview_id]
    assert_error(await acct.request("GET", "/v1/renders?systemPreview=maybe"), 400, "invalid_request")

    query = "query($p: Boolean) { renders(systemPreview: $p) { totalCount items { id isSystemPreview } } }"
    for value, want in ((None, {preview_id, data["renderId"]}), (False, {data["renderId"]}), (True, {preview_id})):
        page = (await gql(acct, query, {"p": value}))["data"]["renders"]
        assert {r["id"] for r in page["items"]} == want and page["totalCount"] == len(want)
    model = await gql(
        acct, "query($id: ID!) { model(id: $id) { renders { id isSystemPreview } } }", {"id": data["modelId"]}
    )
    assert {r["id"]: r["isSystemPreview"] for r in model["data"]["model"]["renders"]} == {
        preview_id: True,
        data["renderId"]: False,
    }


async def test_graphql_upload_answers_the_preview(service, duck):
    _previews_on(service)
    acct = await service.account(credits=5)
    operations = {
        "query": "mutation($f: Upload!) { uploadModel(file: $f) { duplicate render { id isSystemPreview } "
        "systemPreview { id isSystemPreview status renderSettings { length } } } }",
        "variables": {"f": None},
    }
    form = {"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.f"]})}
    files = {"0": ("duck.glb", duck.read_bytes(), "application/octet-stream")}
    first = (await acct.request("POST", "/graphql", data=form, files=files)).json()["data"]["uploadModel"]
    assert first["render"]["isSystemPreview"] is False
    assert first["systemPreview"]["isSystemPreview"] is True and first["systemPreview"]["status"] == "PENDING"
    assert first["systemPreview"]["renderSettings"]["length"] == 3
    again = (await acct.request("POST", "/graphql", data=form, files=files)).json()["data"]["uploadModel"]
    assert again["duplicate"] is True and again["systemPreview"] is None


async def test_deleting_a_preview_refunds_nothing(service):
    _previews_on(service)
    acct = await service.account(credits=5)
    data = (await acct.upload(minimal_glb(b"del"))).json()["data"]
    preview_id = next(r.id for r in await _rows(service, data["modelId"]) if r.is_system_preview)
    before = await _credits(acct)
    r = await acct.request("DELETE", f"/v1/renders/{preview_id}")
    assert r.status_code == 200 and r.json()["data"] == {"id": preview_id, "deleted": True}
    assert_error(await acct.request("GET", f"/v1/renders/{preview_id}"), 404, "render_not_found")
    assert await _ledger(service, preview_id) == []
    assert await _credits(acct) == before


async def test_a_broken_model_fails_its_paid_renders_with_one_refund(service):
    """What the render job does when the preview fails because of the file (render_state's rule;
    tests/pipeline/test_system_preview.py gets there through a real render)."""
    _previews_on(service)
    acct = await service.account(credits=10)
    data = (await acct.upload(minimal_glb(b"broken"))).json()["data"]
    queued = await acct.request("POST", "/v1/renders", json={"modelId": data["modelId"]})
    queued_id = queued.json()["data"]["id"]
    assert (await _credits(acct))["credits"] == 8
    model = (await acct.request("GET", f"/v1/models/{data['modelId']}")).json()["data"]
    assert model["broken"] is False and model["brokenReason"] is None

    async with service.runtime.unit_of_work() as s:
        failed = await render_state.mark_model_broken(s, data["modelId"], "The model file has no size")
    assert sorted(r.id for r in failed) == sorted([data["renderId"], queued_id])
    for render_id in (data["renderId"], queued_id):
        got = (await acct.request("GET", f"/v1/renders/{render_id}")).json()["data"]
        assert got["status"] == "error"
        assert "The model cannot be rendered: The model file has no size" in got["errorMessage"]
        assert await _ledger(service, render_id) == [("charge", -1, 0), ("refund", 1, 0)]
    assert (await _credits(acct))["credits"] == 10
    rows = {r.id: r for r in await _rows(service, data["modelId"])}
    preview = next(r for r in rows.values() if r.is_system_preview)
    assert preview.status == "pending"  # the job fails the preview itself; nothing to refund

    # Marking again changes nothing (the first reason stays, nothing refunded twice).
    async with service.runtime.unit_of_work() as s:
        assert await render_state.mark_model_broken(s, data["modelId"], "another reason") == []
    # Exposed on REST (detail and list) and GraphQL.
    model = (await acct.request("GET", f"/v1/models/{data['modelId']}")).json()["data"]
    assert model["broken"] is True and model["brokenReason"] == "The model file has no size"
    listed = (await acct.request("GET", "/v1/models")).json()["data"][0]
    assert listed["broken"] is True and listed["brokenReason"] == "The model file has no size"
    q = await gql(acct, "query($id: ID!) { model(id: $id) { broken brokenReason } }", {"id": data["modelId"]})
    assert q["data"]["model"] == {"broken": True, "brokenReason": "The model file has no size"}

    # New paid renders end in error at once, refunded once, and are not queued.
    queue = service.runtime.queue
    while not queue.pending.empty():
        queue.pending.get_nowait()
    new = await acct.request("POST", "/v1/renders", json={"modelId": data["modelId"]})
    assert new.status_code == 201, new.text
    assert new.json()["data"]["status"] == "error"
    assert await _ledger(service, new.json()["data"]["id"]) == [("charge", -1, 0), ("refund", 1, 0)]
    batch = await acct.request(
        "POST", "/v1/renders/batch", json={"renders": [{"modelId": data["modelId"]}, {"modelId": data["modelId"]}]}
    )
    assert [x["status"] for x in batch.json()["data"]] == ["error", "error"]
    dup = await acct.upload(minimal_glb(b"broken"))
    assert dup.json()["data"]["duplicate"] is True
    got = (await acct.request("GET", f"/v1/renders/{dup.json()['data']['renderId']}")).json()["data"]
    assert got["status"] == "error"
    assert queue.pending.empty()
    assert (await _credits(acct))["credits"] == 10
    async with service.runtime.unit_of_work() as s:
        row = await s.get(Model3D, data["modelId"])
        assert row is not None and row.broken_reason == "The model file has no size"
