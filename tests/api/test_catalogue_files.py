"""Real catalogue files through the service, on SQLite and PostgreSQL: the inspection report on
REST and GraphQL, the decoded copy stored beside the model file (and the one rule that renders load
it), and ``unsupported_extension`` (400, nothing stored, nothing charged) on REST upload, URL ingest
and GraphQL."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from dxgl.services.assets import render_source_key
from dxgl.tables import LedgerEntry, Model3D, Render
from tests.api.helpers import assert_error
from tests.assets import MODELS_DIR
from tests.graphql.conftest import error_codes, gql
from tests.ingest.builders import glb_bytes, triangle_document
from tests.ingest.counting_server import LocalHTTPServer
from tests.ingest.test_inspection import REPORT_KEYS

DRACO_DUCK = MODELS_DIR / "compressed" / "Duck-draco.glb"

INSPECTION_KEYS = REPORT_KEYS  # the list, written once in the ingest test


def unknown_extension_glb() -> bytes:
    """A valid one-triangle GLB that requires an extension nobody can decode."""
    doc, blob = triangle_document()
    doc["extensionsUsed"] = ["EXT_unknown_thing"]
    doc["extensionsRequired"] = ["EXT_unknown_thing"]
    return glb_bytes(json.dumps(doc).encode(), blob)


async def _row(service, model_id: str) -> Model3D:
    async with service.runtime.unit_of_work() as s:
        row = await s.get(Model3D, model_id)
        assert row is not None
        return row


async def test_duck_inspection_on_rest_and_graphql(service, duck):
    acct = await service.account(credits=5)
    model_id = (await acct.upload(duck, name="duck.glb")).json()["data"]["modelId"]
    report = (await acct.request("GET", f"/v1/models/{model_id}")).json()["data"]["inspection"]
    assert set(report) >= INSPECTION_KEYS, report
    assert report["triangles"] > 0 and report["vertices"] > 0 and report["meshes"] >= 1
    assert report["materials"] >= 1 and report["hasUVs"] is True and report["hasNormals"] is True
    assert report["textures"] and report["textures"][0]["width"] > 0 and report["textures"][0]["height"] > 0
    assert len(report["sizeMeters"]) == 3 and all(v > 0 for v in report["sizeMeters"])
    assert report["extensionsRequired"] == []
    # The list keeps its documented item shape (plus broken / brokenReason): no report there.
    listed = (await acct.request("GET", "/v1/models")).json()["data"][0]
    assert "inspection" not in listed and listed["broken"] is False

    query = """query($id: ID!) { model(id: $id) { inspection {
        triangles vertices meshes materials textures { width height format } extensionsUsed extensionsRequired
        sizeMeters hasUVs hasNormals hasVertexColors animationsIgnored warnings } } }"""
    got = (await gql(acct, query, {"id": model_id}))["data"]["model"]["inspection"]
    assert got["triangles"] == report["triangles"] and got["vertices"] == report["vertices"]
    assert got["textures"] == [
        {"width": t["width"], "height": t["height"], "format": t["format"]} for t in report["textures"]
    ]
    assert got["sizeMeters"] == pytest.approx(report["sizeMeters"])
    assert got["hasUVs"] is True and got["extensionsRequired"] == []

    # A model stored before reports existed: null on both.
    async with service.runtime.unit_of_work() as s:
        await s.execute(update(Model3D).where(Model3D.id == model_id).values(inspection={}))
    assert (await acct.request("GET", f"/v1/models/{model_id}")).json()["data"]["inspection"] is None
    assert (await gql(acct, query, {"id": model_id}))["data"]["model"]["inspection"] is None


async def test_plain_glb_has_no_decoded_copy_and_renders_load_the_model_file(service, duck):
    acct = await service.account(credits=5)
    model_id = (await acct.upload(duck)).json()["data"]["modelId"]
    row = await _row(service, model_id)
    assert row.decoded_key is None
    assert render_source_key(row) == row.storage_key
    assert service.runtime.storage.exists(row.storage_key)


async def test_draco_upload_stores_the_file_as_uploaded_and_a_decoded_copy(service):
    acct = await service.account(credits=5)
    content = DRACO_DUCK.read_bytes()
    r = await acct.upload(content, name="duck-draco.glb")
    assert r.status_code == 201, r.text
    model_id = r.json()["data"]["modelId"]
    file = await acct.request("GET", f"/v1/models/{model_id}/file")
    assert file.status_code == 200 and file.content == content  # byte for byte as uploaded
    detail = (await acct.request("GET", f"/v1/models/{model_id}")).json()["data"]
    assert detail["fileSize"] == len(content)
    assert detail["inspection"]["extensionsRequired"] == ["KHR_draco_mesh_compression"]
    row = await _row(service, model_id)
    assert row.decoded_key, "Draco decoding is not in ingest yet: no decoded copy was made"
    storage = service.runtime.storage
    assert render_source_key(row) == row.decoded_key != row.storage_key
    decoded = storage.path(row.decoded_key)
    assert decoded.is_file() and decoded.read_bytes()[:4] == b"glTF"
    assert b"KHR_draco_mesh_compression" not in decoded.read_bytes()[:20000]  # plain glTF now


class _OneFile(BaseHTTPRequestHandler):
    body = b""

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)


async def _nothing_stored(service, acct, credits_before: int) -> None:
    async with service.runtime.unit_of_work() as s:
        for table in (Model3D, Render):
            count = (await s.execute(select(func.count()).where(table.account_id == acct.id))).scalar_one()
            assert count == 0, table
        ledger = (
            await s.execute(select(func.count()).where(LedgerEntry.account_id == acct.id, LedgerEntry.kind != "grant"))
        ).scalar_one()
        assert ledger == 0
    models_dir = service.runtime.storage.path(f"models/{acct.id}")
    assert not models_dir.exists() or not any(models_dir.iterdir())
    assert not any(Path(service.runtime.storage.tmp_dir).iterdir())
    assert (await acct.request("GET", "/v1/account")).json()["data"]["credits"] == credits_before


async def test_unsupported_extension_rest_upload_and_url_ingest(service):
    service.runtime.settings.system_preview = True  # nothing made for it either
    service.runtime.settings.ingest_allow_private = True
    acct = await service.account(credits=5)
    content = unknown_extension_glb()
    error = assert_error(await acct.upload(content, name="odd.glb"), 400, "unsupported_extension")
    assert "EXT_unknown_thing" in error["message"]
    await _nothing_stored(service, acct, 5)

    handler = type("Handler", (_OneFile,), {"body": content})
    with LocalHTTPServer(handler) as server:
        r = await acct.request("POST", "/v1/models/ingest", json={"url": f"http://127.0.0.1:{server.port}/odd.glb"})
    assert_error(r, 400, "unsupported_extension")
    await _nothing_stored(service, acct, 5)


async def test_unsupported_extension_graphql_upload(service):
    acct = await service.account(credits=5)
    operations = {"query": "mutation($f: Upload!) { uploadModel(file: $f) { duplicate } }", "variables": {"f": None}}
    r = await acct.request(
        "POST",
        "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.f"]})},
        files={"0": ("odd.glb", unknown_extension_glb(), "application/octet-stream")},
    )
    body = r.json()
    assert error_codes(body) == ["unsupported_extension"], body
    assert body["errors"][0]["extensions"]["status"] == 400
    assert "EXT_unknown_thing" in body["errors"][0]["message"]
    await _nothing_stored(service, acct, 5)
