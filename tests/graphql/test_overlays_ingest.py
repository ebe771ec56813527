"""Overlays and URL ingest through GraphQL: same services, same error codes as REST."""

from __future__ import annotations

import json

from tests.api.test_overlays import image_bytes
from tests.graphql.conftest import error_codes, gql

UPLOAD_OVERLAY = """
mutation($file: Upload!, $layer: OverlayLayer, $name: String, $alignment: Alignment) {
  uploadOverlay(file: $file, layer: $layer, name: $name, alignment: $alignment) { id layer alignment name system width height }
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


async def test_overlay_lifecycle_and_errors(service):
    a = await service.account()
    b = await service.account()
    created = (
        await upload_overlay(a, image_bytes(size=(40, 20)), name="Studio", layer="FOREGROUND", alignment="CENTER")
    )["data"]["uploadOverlay"]
    assert (created["layer"], created["alignment"], created["name"], created["system"]) == (
        "FOREGROUND",
        "CENTER",
        "Studio",
        False,
    )
    assert (created["width"], created["height"]) == (40, 20)

    async def own(account, args: str = "") -> list[str]:
        # other tests may have published system overlays in the shared PostgreSQL database
        result = await gql(account, "{ overlays" + args + " { id system } }")
        return [o["id"] for o in result["data"]["overlays"] if not o["system"]]

    assert await own(a) == [created["id"]]
    assert await own(a, "(layer: BACKGROUND)") == []
    assert error_codes(await gql(a, '{ overlays(layer: "background") { id } }')) == ["invalid_request"]
    assert await own(b) == []

    assert error_codes(await upload_overlay(a, b"not an image")) == ["invalid_format"]
    assert error_codes(await upload_overlay(a, image_bytes(), name="n" * 101)) == ["invalid_request"]
    assert error_codes(await upload_overlay(a, image_bytes() + b"\0" * (10 * 1024 * 1024))) == ["file_too_large"]
    delete = "mutation($id: ID!) { deleteOverlay(id: $id) { id deleted } }"
    assert error_codes(await gql(b, delete, {"id": created["id"]})) == ["overlay_not_found"]
    assert (await gql(a, delete, {"id": created["id"]}))["data"]["deleteOverlay"]["deleted"] is True
    reader = await service.account(scopes="overlays:read")
    assert error_codes(await upload_overlay(reader, image_bytes())) == ["insufficient_scope"]


async def test_ingest_errors(service):
    acct = await service.account(credits=5)
    ingest = "mutation($url: String) { ingestModel(url: $url) { duplicate model { id } } }"
    assert error_codes(await gql(acct, ingest, {})) == ["url_required"]
    assert error_codes(await gql(acct, ingest, {"url": "ftp://example.com/a.glb"})) == ["invalid_url"]
    assert error_codes(await gql(acct, ingest, {"url": "http://127.0.0.1:9/a.glb"})) == ["invalid_url"]
