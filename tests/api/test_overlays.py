"""Overlays: upload, list (own + system), delete (own only), validation, use in render settings."""

from __future__ import annotations

import io

from PIL import Image
from sqlalchemy import select

from dxgl.services import overlays
from dxgl.services.uploads import HashingWriter
from dxgl.tables import Overlay
from tests.api.helpers import assert_error, minimal_glb


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (64, 32), mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, (200, 10, 10)).save(buf, format=fmt)
    return buf.getvalue()


async def own(acct, query: str = "") -> list[dict]:
    """The account's own overlays (system overlays published by other tests are listed too)."""
    return [o for o in (await acct.request("GET", f"/v1/overlays{query}")).json()["data"] if not o["system"]]


async def upload(acct, content: bytes, **fields) -> object:
    return await acct.request("POST", "/v1/overlays", files={"file": ("o.png", content)}, data=fields)


async def test_upload_list_delete(service):
    acct = await service.account()
    r = await upload(acct, image_bytes(), name="My Gradient")
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert set(data) == {"id", "layer", "alignment", "name"}
    assert (data["layer"], data["alignment"], data["name"]) == ("background", "top-left", "My Gradient")
    fg = (
        await upload(
            acct, image_bytes("WEBP", mode="RGBA"), layer="foreground", alignment="bottom-right", description="logo"
        )
    ).json()["data"]
    jpg = (await upload(acct, image_bytes("JPEG"))).json()["data"]
    listing = await own(acct)
    assert {o["id"] for o in listing} == {data["id"], fg["id"], jpg["id"]}
    backgrounds = await own(acct, "?layer=background")
    assert {o["id"] for o in backgrounds} == {data["id"], jpg["id"]}
    async with service.runtime.unit_of_work() as s:
        key = (await s.get_one(Overlay, jpg["id"])).storage_key
    assert service.runtime.storage.exists(key)
    assert (await acct.request("DELETE", f"/v1/overlays/{jpg['id']}")).status_code == 200
    assert not service.runtime.storage.exists(key)
    assert_error(await acct.request("DELETE", f"/v1/overlays/{jpg['id']}"), 404, "overlay_not_found")


async def test_bad_uploads(service):
    acct = await service.account()
    assert_error(await acct.request("POST", "/v1/overlays", data={"name": "x"}), 400, "no_file")
    # The same empty-file rule as model uploads (one rule in the services, not per adapter).
    assert "empty" in assert_error(await upload(acct, b""), 400, "invalid_format")["message"]
    assert_error(await upload(acct, b"GIF89a not allowed"), 400, "invalid_format")
    assert_error(await upload(acct, image_bytes("GIF")), 400, "invalid_format")
    assert_error(await upload(acct, minimal_glb()), 400, "invalid_format")
    assert_error(await upload(acct, image_bytes() + b"\0" * (10 * 1024 * 1024)), 400, "file_too_large")
    assert_error(await upload(acct, image_bytes(), name="n" * 101), 400, "invalid_request")
    assert_error(await upload(acct, image_bytes(), description="d" * 501), 400, "invalid_request")
    assert_error(await upload(acct, image_bytes(), layer="middle"), 400, "invalid_request")
    assert_error(await upload(acct, image_bytes(), alignment="somewhere"), 400, "invalid_request")
    assert await own(acct) == []
    assert not [p for p in service.runtime.storage.root.rglob("*") if p.is_file()]


async def test_tenancy_and_system_overlays(service):
    a = await service.account(credits=10)
    b = await service.account(credits=10)
    mine = (await upload(a, image_bytes())).json()["data"]["id"]
    writer = HashingWriter(service.runtime.storage.temp_path(), 10**7)
    writer.write(image_bytes())
    async with service.runtime.unit_of_work() as s:
        system = (
            await overlays.upload_overlay(
                s, None, storage=service.runtime.storage, upload=writer.finish("s.png"), name="Studio"
            )
        ).id
    seen_by_b = {o["id"] for o in (await b.request("GET", "/v1/overlays")).json()["data"]}
    assert system in seen_by_b and mine not in seen_by_b and await own(b) == []
    assert [o["system"] for o in (await a.request("GET", "/v1/overlays")).json()["data"] if o["id"] == system] == [True]
    assert_error(await b.request("DELETE", f"/v1/overlays/{mine}"), 404, "overlay_not_found")
    assert_error(await b.request("DELETE", f"/v1/overlays/{system}"), 404, "overlay_not_found")
    model_b = (await b.upload(minimal_glb(b"ovl"))).json()["data"]["modelId"]
    err = assert_error(
        await b.request("POST", "/v1/renders", json={"modelId": model_b, "renderSettings": {"bgImageId": mine}}),
        400,
        "invalid_settings",
    )
    assert "bgImageId" in err["message"]
    ok = await b.request("POST", "/v1/renders", json={"modelId": model_b, "renderSettings": {"bgImageId": system}})
    assert ok.status_code == 201
    assert ok.json()["data"]["renderSettings"]["bgAlign"] == "top-left"  # filled from the overlay
    async with a.service.runtime.unit_of_work() as s:
        assert (await s.execute(select(Overlay).where(Overlay.id == mine))).scalar_one().account_id == a.id


async def test_settings_reference_the_right_layer(service):
    acct = await service.account(credits=10)
    bg = (await upload(acct, image_bytes(), alignment="center")).json()["data"]["id"]
    fg = (await upload(acct, image_bytes(mode="RGBA"), layer="foreground")).json()["data"]["id"]
    model_id = (await acct.upload(minimal_glb(b"layers"))).json()["data"]["modelId"]

    async def create(settings):
        return await acct.request("POST", "/v1/renders", json={"modelId": model_id, "renderSettings": settings})

    assert_error(await create({"bgImageId": fg}), 400, "invalid_settings")
    assert_error(await create({"fgImageId": bg}), 400, "invalid_settings")
    assert_error(await create({"bgImageId": "nope"}), 400, "invalid_settings")
    assert_error(await create({"bgAlign": "center"}), 400, "invalid_settings")
    r = await create({"bgImageId": bg, "fgImageId": fg, "bgAlign": "bottom-right"})
    assert r.status_code == 201
    settings = r.json()["data"]["renderSettings"]
    assert (settings["bgAlign"], settings["fgAlign"]) == ("bottom-right", "top-left")  # bgAlign overrides
    defaulted = (await create({"bgImageId": bg})).json()["data"]["renderSettings"]
    assert defaulted["bgAlign"] == "center"


async def test_overlay_scopes(service):
    reader = await service.account(scopes="overlays:read")
    assert_error(await upload(reader, image_bytes()), 403, "insufficient_scope")
    assert (await reader.request("GET", "/v1/overlays")).status_code == 200
    nobody = await service.account(scopes="models:read")
    assert_error(await nobody.request("GET", "/v1/overlays"), 403, "insufficient_scope")


async def test_overlay_image_is_served_to_its_owner_and_for_system_overlays(service):
    """GET /v1/overlays/:id/image (dxgl extension): the stored bytes, own or system, 404 otherwise."""
    a = await service.account()
    b = await service.account()
    png = image_bytes()
    mine = (await upload(a, png)).json()["data"]["id"]
    got = await a.request("GET", f"/v1/overlays/{mine}/image")
    assert got.status_code == 200 and got.content == png and got.headers["content-type"] == "image/png"
    part = await a.request("GET", f"/v1/overlays/{mine}/image", headers={"Range": "bytes=0-7"})
    assert part.status_code == 206 and part.content == png[:8]
    assert_error(await b.request("GET", f"/v1/overlays/{mine}/image"), 404, "overlay_not_found")
    writer = HashingWriter(service.runtime.storage.temp_path(), 10**7)
    writer.write(image_bytes("JPEG"))
    async with service.runtime.unit_of_work() as s:
        system = (
            await overlays.upload_overlay(s, None, storage=service.runtime.storage, upload=writer.finish("s.jpg"))
        ).id
    shared = await b.request("GET", f"/v1/overlays/{system}/image")
    assert shared.status_code == 200 and shared.headers["content-type"] == "image/jpeg"
    assert (await a.request("DELETE", f"/v1/overlays/{mine}")).status_code == 200
    assert_error(await a.request("GET", f"/v1/overlays/{mine}/image"), 404, "overlay_not_found")
    assert_error(await a.request("GET", "/v1/overlays/nope/image"), 404, "overlay_not_found")
