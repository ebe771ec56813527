"""Renders endpoints: create, settings validation, batch, list, get, dismiss, delete, credits."""

from __future__ import annotations

from sqlalchemy import update

from dxgl.tables import Render
from tests.api.helpers import assert_error, minimal_glb


async def _model(acct, tag: bytes = b"r") -> str:
    r = await acct.upload(minimal_glb(tag))
    assert r.status_code == 201, r.text
    return r.json()["data"]["modelId"]


async def test_create_render_shape_and_defaults(service):
    acct = await service.account(credits=30)
    model_id = await _model(acct)
    r = await acct.request(
        "POST",
        "/v1/renders",
        json={"modelId": model_id, "renderSettings": {"quality": "4k", "aspect": "16:9", "bgColor": "#ffffff"}},
    )
    assert r.status_code == 201, r.text
    data = r.json()["data"]
    assert set(data) == {"id", "modelId", "status", "renderSettings"}
    assert data["status"] == "pending" and data["modelId"] == model_id
    s = data["renderSettings"]
    assert s["quality"] == "4k" and s["effect"] == "turntable" and s["length"] == 6 and s["shadows"] is True
    assert s["rotateY"] == 0 and s["tiltX"] == 0 and s["easing"] is True and s["reflector"] is False
    full = (await acct.request("GET", f"/v1/renders/{data['id']}")).json()["data"]
    assert set(full) == {
        "id",
        "modelId",
        "status",
        "renderSettings",
        "fileSize",
        "errorMessage",
        "hasWebVariant",
        "isSystemPreview",
        "createdAt",
        "updatedAt",
    }
    assert full["fileSize"] is None and full["errorMessage"] is None and full["hasWebVariant"] is False
    assert full["isSystemPreview"] is False
    hero = (
        await acct.request("POST", "/v1/renders", json={"modelId": model_id, "renderSettings": {"effect": "hero-spin"}})
    ).json()
    assert hero["data"]["renderSettings"]["sweepAngle"] == 540 and hero["data"]["renderSettings"]["easeOutRatio"] == 0.6
    ds = (
        await acct.request("POST", "/v1/renders", json={"modelId": model_id, "renderSettings": {"output": "dataset"}})
    ).json()
    assert (
        ds["data"]["renderSettings"]["effect"] == "dataset"
        and ds["data"]["renderSettings"]["datasetQuality"] == "100x800"
    )


# One model serves every case (a refused request charges nothing), so the sweep costs one upload.
INVALID_SETTINGS = [
    ({"length": "6"}, "length"),
    ({"length": 6.5}, "length"),
    ({"length": True}, "length"),
    ({"length": 2}, "length"),
    ({"length": 16}, "length"),
    ({"quality": "8k"}, "quality"),
    ({"effect": "spin"}, "effect"),
    ({"aspect": "4:3"}, "aspect"),
    ({"bgColor": "#fff"}, "bgColor"),
    ({"bgColor": "ff8800"}, "bgColor"),
    ({"shadows": "true"}, "shadows"),
    ({"rotateY": 181}, "rotateY"),
    ({"tiltX": -91}, "tiltX"),
    ({"tiltX": 1.5}, "tiltX"),
    ({"sweepAngle": 5}, "sweepAngle"),
    ({"easeOutRatio": 1.5}, "easeOutRatio"),
    ({"amplitude": 181}, "amplitude"),
    ({"zoomStart": 0}, "zoomStart"),
    ({"zoomEnd": 3.5}, "zoomEnd"),
    ({"scaleFrom": -0.1}, "scaleFrom"),
    ({"datasetQuality": "100x800"}, "datasetQuality"),
    ({"effect": "dataset", "datasetQuality": "1x1"}, "datasetQuality"),
    ({"effect": "dataset", "coverage": "cube"}, "coverage"),
    ({"unknownKey": 1}, "unknownKey"),
    ("not an object", "renderSettings"),
]


async def test_invalid_settings_name_the_field(service):
    acct = await service.account(credits=5)
    model_id = await _model(acct)
    credits = (await acct.request("GET", "/v1/account")).json()["data"]["credits"]
    for raw, field in INVALID_SETTINGS:
        response = await acct.request("POST", "/v1/renders", json={"modelId": model_id, "renderSettings": raw})
        try:
            err = assert_error(response, 400, "invalid_settings")
        except AssertionError as exc:
            raise AssertionError(f"renderSettings {raw!r}: {exc}") from exc
        assert field in err["message"], (raw, err)
    assert (await acct.request("GET", "/v1/account")).json()["data"]["credits"] == credits  # none charged


async def test_create_render_errors(service):
    acct = await service.account(credits=5)
    assert_error(await acct.request("POST", "/v1/renders", json={}), 400, "model_id_required")
    assert_error(await acct.request("POST", "/v1/renders", json={"modelId": "nope"}), 404, "model_not_found")
    assert_error(
        await acct.request("POST", "/v1/renders", content=b"[", headers={"Content-Type": "application/json"}),
        400,
        "invalid_json",
    )
    model_id = await _model(acct)
    assert_error(
        await acct.request("POST", "/v1/renders", json={"modelId": model_id, "renderSettings": {"quality": "pro"}}),
        402,
        "no_credits",
    )
    assert_error(await acct.request("GET", "/v1/renders/nope"), 404, "render_not_found")


async def test_free_credits_watermark_and_tiers(service):
    acct = await service.account(credits=0, free=2)
    model_id = await _model(acct)  # 1 free credit
    assert_error(
        await acct.request("POST", "/v1/renders", json={"modelId": model_id, "renderSettings": {"quality": "4k"}}),
        402,
        "no_credits",
    )
    r = await acct.request("POST", "/v1/renders", json={"modelId": model_id, "renderSettings": {"effect": "dataset"}})
    assert r.status_code == 201
    async with service.runtime.unit_of_work() as s:
        rows = {
            r.id: r
            for r in (
                await s.execute(__import__("sqlalchemy").select(Render).where(Render.account_id == acct.id))
            ).scalars()
        }
    dataset = rows[r.json()["data"]["id"]]
    assert dataset.free_credits_used == 1 and dataset.watermark is False
    video = [x for x in rows.values() if x.id != dataset.id][0]
    assert video.free_credits_used == 1 and video.watermark is True
    assert (await acct.request("GET", "/v1/account")).json()["data"]["credits"] == 0


async def test_batch(service):
    acct = await service.account(credits=10)
    m1 = await _model(acct, b"b1")
    m2 = await _model(acct, b"b2")
    body = {
        "renders": [
            {"modelId": m1, "renderSettings": {"aspect": "16:9", "bgColor": "#ffffff"}},
            {"modelId": m1, "renderSettings": {"aspect": "1:1", "bgColor": "#000000"}},
            {"modelId": m2, "renderSettings": {"aspect": "16:9"}},
        ]
    }
    r = await acct.request("POST", "/v1/renders/batch", json=body)
    assert r.status_code == 201, r.text
    items = r.json()["data"]
    assert [set(i) for i in items] == [{"id", "modelId", "status"}] * 3
    assert [i["modelId"] for i in items] == [m1, m1, m2] and {i["status"] for i in items} == {"pending"}
    assert (await acct.request("GET", "/v1/account")).json()["data"]["credits"] == 10 - 2 - 3

    assert_error(await acct.request("POST", "/v1/renders/batch", json={}), 400, "renders_required")
    assert_error(await acct.request("POST", "/v1/renders/batch", json={"renders": []}), 400, "renders_required")
    assert_error(
        await acct.request("POST", "/v1/renders/batch", json={"renders": [{"modelId": m1}] * 101}), 400, "too_many"
    )
    assert_error(
        await acct.request("POST", "/v1/renders/batch", json={"renders": [{"renderSettings": {}}]}),
        400,
        "model_id_required",
    )
    err = assert_error(
        await acct.request(
            "POST",
            "/v1/renders/batch",
            json={"renders": [{"modelId": m1}, {"modelId": m1, "renderSettings": {"length": 99}}]},
        ),
        400,
        "invalid_settings",
    )
    assert "renders[1]" in err["message"] and "length" in err["message"]
    # all-or-nothing: 5 credits left, 6 asked -> nothing created, nothing charged
    before = (await acct.request("GET", "/v1/renders")).json()["meta"]["total"]
    assert_error(
        await acct.request(
            "POST",
            "/v1/renders/batch",
            json={"renders": [{"modelId": m1, "renderSettings": {"quality": "4k"}}, {"modelId": m2}, {"modelId": m2}]},
        ),
        402,
        "no_credits",
    )
    assert (await acct.request("GET", "/v1/renders")).json()["meta"]["total"] == before
    assert (await acct.request("GET", "/v1/account")).json()["data"]["credits"] == 5


async def test_list_filters_dismiss_delete(service):
    acct = await service.account(credits=10)
    m1 = await _model(acct, b"l1")
    m2 = await _model(acct, b"l2")
    listing = (await acct.request("GET", f"/v1/renders?model={m1}")).json()
    assert listing["meta"]["total"] == 1 and listing["data"][0]["modelId"] == m1
    rid = listing["data"][0]["id"]
    assert (await acct.request("GET", "/v1/renders?status=pending&limit=1")).json()["meta"] == {
        "total": 2,
        "offset": 0,
        "limit": 1,
    }
    assert (await acct.request("GET", "/v1/renders?status=done")).json()["meta"]["total"] == 0

    assert_error(await acct.request("PATCH", f"/v1/renders/{rid}/dismiss"), 409, "invalid_state")
    async with service.runtime.unit_of_work() as s:
        await s.execute(update(Render).where(Render.id == rid).values(status="error", error_message="boom"))
    r = await acct.request("PATCH", f"/v1/renders/{rid}/dismiss")
    assert r.status_code == 200 and r.json()["data"]["status"] == "failed"
    assert (await acct.request("GET", "/v1/renders?status=failed")).json()["data"][0]["id"] == rid

    folder = service.runtime.storage.path(f"renders/{rid}")
    folder.mkdir(parents=True)
    (folder / "video.mp4").write_bytes(b"x")
    assert (await acct.request("DELETE", f"/v1/renders/{rid}")).status_code == 200
    assert not folder.exists()
    assert_error(await acct.request("GET", f"/v1/renders/{rid}"), 404, "render_not_found")
    assert m2
