"""Models endpoints: upload, dedup, list, get, patch, archive, file, check-hash, delete."""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import func, select

from dxgl.tables import LedgerEntry, Model3D
from tests.api.helpers import assert_error, minimal_glb


async def test_upload_creates_model_and_first_render(service, duck):
    acct = await service.account(credits=3)
    r = await acct.upload(duck, name="chair.glb", settings={"aspect": "16:9", "bgColor": "#ffffff", "length": 6})
    assert r.status_code == 201, r.text
    data = r.json()["data"]
    assert set(data) == {"modelId", "renderId"}
    r = await acct.request("GET", f"/v1/models/{data['modelId']}")
    model = r.json()["data"]
    assert model["originalName"] == "chair.glb"
    assert model["sha256"] == hashlib.sha256(duck.read_bytes()).hexdigest()
    assert model["fileSize"] == duck.stat().st_size
    assert model["createdAt"].endswith("Z") and len(model["createdAt"]) == 24
    assert [x["id"] for x in model["renders"]] == [data["renderId"]]
    render = model["renders"][0]
    assert render["status"] == "pending"
    assert render["renderSettings"]["length"] == 6 and render["renderSettings"]["quality"] == "standard"
    assert set(render) == {"id", "status", "renderSettings", "isSystemPreview", "createdAt", "updatedAt"}
    assert render["isSystemPreview"] is False


async def test_duplicate_within_account_reuses_model_never_across(service):
    a = await service.account(credits=5)
    b = await service.account(credits=5)
    glb = minimal_glb(b"dup")
    first = (await a.upload(glb)).json()["data"]
    second = await a.upload(glb)
    assert second.status_code == 201
    assert second.json()["data"]["modelId"] == first["modelId"]
    assert second.json()["data"]["duplicate"] is True
    assert second.json()["data"]["renderId"] != first["renderId"]
    other = (await b.upload(glb)).json()["data"]
    assert other["modelId"] != first["modelId"] and "duplicate" not in other
    listing = (await a.request("GET", "/v1/models")).json()
    assert listing["meta"]["total"] == 1


async def test_upload_errors(service, duck):
    acct = await service.account(credits=5)
    assert_error(await acct.request("POST", "/v1/models", data={"renderSettings": "{}"}), 400, "no_file")
    assert_error(await acct.request("POST", "/v1/models", json={"file": "x"}), 400, "no_file")
    assert_error(await acct.upload(b"hello, not a model", name="x.glb"), 400, "invalid_format")
    assert_error(await acct.upload(b"", name="x.glb"), 400, "invalid_format")
    assert_error(await acct.upload(duck, settings="{not json"), 400, "invalid_settings")
    err = assert_error(await acct.upload(duck, settings={"length": "6"}), 400, "invalid_settings")
    assert "length" in err["message"]
    # nothing was stored by the failed uploads
    async with service.runtime.unit_of_work() as s:
        assert (
            await s.execute(select(func.count()).select_from(Model3D).where(Model3D.account_id == acct.id))
        ).scalar_one() == 0
    assert not [p for p in service.runtime.storage.tmp_dir.rglob("*") if p.is_file()]


async def test_file_too_large_leaves_nothing(service, settings):
    service.runtime.settings.upload_limit_bytes = 4096
    acct = await service.account(credits=5)
    big = minimal_glb() + b"\0" * 5000
    assert_error(await acct.upload(big), 400, "file_too_large")
    assert not [p for p in service.runtime.storage.root.rglob("*") if p.is_file()]


async def test_upload_without_credits_is_402_and_stores_nothing(service, duck):
    acct = await service.account(credits=0, free=0)
    assert_error(await acct.upload(duck), 402, "no_credits")
    assert (await acct.request("GET", "/v1/models")).json()["meta"]["total"] == 0
    assert not [p for p in service.runtime.storage.root.rglob("*.glb")]


async def test_free_upload_limit(service):
    service.runtime.settings.free_upload_limit = 2
    acct = await service.account(credits=0, free=10)
    for i in range(2):
        assert (await acct.upload(minimal_glb(f"free{i}".encode()))).status_code == 201
    assert_error(await acct.upload(minimal_glb(b"free3")), 429, "upload_limit")
    payer = await service.account(credits=10)
    for i in range(3):
        assert (await payer.upload(minimal_glb(f"paid{i}".encode()))).status_code == 201


async def test_list_pagination_tags_and_archive(service):
    acct = await service.account(credits=20)
    ids = []
    for i in range(5):
        ids.append((await acct.upload(minimal_glb(f"m{i}".encode()), name=f"m{i}.glb")).json()["data"]["modelId"])
    r = await acct.request(
        "PATCH",
        f"/v1/models/{ids[0]}",
        json={"title": "Ergonomic Chair", "sku": "EC-1", "tags": [" Furniture ", "OFFICE", "office"]},
    )
    assert r.status_code == 200
    assert r.json()["data"]["tags"] == ["furniture", "office"]
    assert r.json()["data"]["title"] == "Ergonomic Chair"
    await acct.request("PATCH", f"/v1/models/{ids[1]}", json={"tags": ["lamp"]})
    await acct.request("PATCH", f"/v1/models/{ids[2]}", json={"title": "only title"})
    assert (await acct.request("GET", f"/v1/models/{ids[2]}")).json()["data"]["sku"] is None

    page = (await acct.request("GET", "/v1/models?limit=2&offset=1")).json()
    assert page["meta"] == {"total": 5, "offset": 1, "limit": 2} and len(page["data"]) == 2
    assert (await acct.request("GET", "/v1/models?limit=500")).json()["meta"]["limit"] == 100
    tagged = (await acct.request("GET", "/v1/models?tags=lamp,furniture")).json()
    assert sorted(m["id"] for m in tagged["data"]) == sorted(ids[:2]) and tagged["meta"]["total"] == 2
    assert_error(await acct.request("GET", "/v1/models?limit=abc"), 400, "invalid_request")

    assert (await acct.request("PATCH", f"/v1/models/{ids[3]}/archive")).status_code == 200
    default = (await acct.request("GET", "/v1/models")).json()
    assert ids[3] not in [m["id"] for m in default["data"]] and default["meta"]["total"] == 4
    archived = (await acct.request("GET", "/v1/models?archived=true")).json()
    assert [m["id"] for m in archived["data"]] == [ids[3]]
    assert (await acct.request("PATCH", f"/v1/models/{ids[3]}/unarchive")).status_code == 200
    assert (await acct.request("GET", "/v1/models")).json()["meta"]["total"] == 5

    too_many = [f"t{i}" for i in range(21)]
    assert_error(await acct.request("PATCH", f"/v1/models/{ids[0]}", json={"tags": too_many}), 400, "invalid_request")
    assert_error(
        await acct.request(
            "PATCH", f"/v1/models/{ids[0]}", content=b"{bad", headers={"Content-Type": "application/json"}
        ),
        400,
        "invalid_json",
    )


async def test_file_download_check_hash_and_soft_delete(service, duck):
    acct = await service.account(credits=5)
    data = (await acct.upload(duck, name="Duck.glb")).json()["data"]
    model_id, render_id = data["modelId"], data["renderId"]
    r = await acct.request("GET", f"/v1/models/{model_id}/file")
    assert r.status_code == 200
    assert r.headers["content-type"] == "model/gltf-binary"
    assert r.headers["content-disposition"].startswith("attachment")
    assert r.content == duck.read_bytes()

    sha = hashlib.sha256(duck.read_bytes()).hexdigest()
    r = await acct.request("POST", "/v1/models/check-hash", json={"sha256": sha})
    assert r.json() == {"data": {"exists": True, "modelId": model_id}}
    r = await acct.request("POST", "/v1/models/check-hash", json={"sha256": "0" * 64})
    assert r.json()["data"]["exists"] is False
    assert_error(await acct.request("POST", "/v1/models/check-hash", json={}), 400, "sha256_required")

    assert (await acct.request("DELETE", f"/v1/models/{model_id}")).status_code == 200
    assert_error(await acct.request("GET", f"/v1/models/{model_id}"), 404, "model_not_found")
    assert_error(await acct.request("GET", f"/v1/models/{model_id}/file"), 404, "model_not_found")
    assert (await acct.request("GET", f"/v1/renders/{render_id}")).status_code == 200
    assert (await acct.request("POST", "/v1/models/check-hash", json={"sha256": sha})).json()["data"]["exists"] is False


async def test_missing_stored_file_is_file_not_found(service, duck):
    acct = await service.account(credits=5)
    model_id = (await acct.upload(duck)).json()["data"]["modelId"]
    async with service.runtime.unit_of_work() as s:
        key = (await s.get_one(Model3D, model_id)).storage_key
    service.runtime.storage.delete(key)
    assert_error(await acct.request("GET", f"/v1/models/{model_id}/file"), 404, "file_not_found")


async def test_ledger_matches_balance_after_uploads(service):
    acct = await service.account(credits=3, free=2)
    for i in range(4):
        assert (await acct.upload(minimal_glb(f"l{i}".encode()))).status_code == 201
    # one free credit is left, but free credits never pay for 4k
    assert_error(await acct.upload(minimal_glb(b"l5"), settings={"quality": "4k"}), 402, "no_credits")
    body = (await acct.request("GET", "/v1/account")).json()["data"]
    assert (body["paidCredits"], body["freeCredits"]) == (0, 1)
    async with service.runtime.unit_of_work() as s:
        paid, free = (
            await s.execute(
                select(func.sum(LedgerEntry.paid_delta), func.sum(LedgerEntry.free_delta)).where(
                    LedgerEntry.account_id == acct.id
                )
            )
        ).one()
    assert (paid, free) == (0, 1)
    renders = (await acct.request("GET", "/v1/renders?limit=100")).json()["data"]
    assert len(renders) == 4
    assert json.dumps(renders)  # serialisable
