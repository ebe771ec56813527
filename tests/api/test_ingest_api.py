"""URL ingest through ``POST /v1/models/ingest`` on SQLite and PostgreSQL.

Refusals are checked against a real counting listener on 127.0.0.1 (every SSRF spelling points at
its port): a refused URL must open ZERO connections. Successful fetches use the same listener with
``ingest_allow_private`` switched on, as a self-hosted deployment would. Every failure must leave
nothing in storage (``.tmp`` empty), no model or render row and no charge.
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest
from sqlalchemy import func, select

from dxgl.tables import Model3D, Render
from tests.api.helpers import assert_error
from tests.api.test_hostile_uploads import ALL_CASES
from tests.ingest import builders as b
from tests.ingest.counting_server import CountingServer, LocalHTTPServer
from tests.ingest.ssrf_spellings import SSRF_URLS

# Refused even when private addresses are allowed: reached through a redirect from the allowed listener.
ALWAYS_REFUSED_TARGETS = [
    "http://169.254.169.254/latest/meta-data/",
    "http://2130706433:PORT/model.glb",
    "http://0x7f.1:PORT/model.glb",
    "http://[::ffff:127.0.0.1]:PORT/model.glb",
    "http://0.0.0.0:PORT/model.glb",
    "ftp://127.0.0.1:PORT/model.glb",
    "http://user:pw@127.0.0.1:PORT/model.glb",
]
MALFORMED = [
    "ftp://example.com/model.glb",
    "file:///etc/passwd",
    "javascript:alert(1)",
    "gopher://127.0.0.1:70/",
    "not a url",
    "http://",
    "http:///model.glb",
    "//example.com/model.glb",
    "http://exa mple.com/x.glb",
    "http://[::1/model.glb",
    "http://example.com:99999/model.glb",
    "http://" + "a" * 2100 + ".com/",
]


@pytest.fixture
def listener() -> Iterator[CountingServer]:
    with CountingServer() as server:
        yield server


class StallingListener:
    """Accepts TCP connections on 127.0.0.1 and never answers (a server that hangs)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self.closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        self.closed.set()
        self.sock.close()
        for conn in self.held:
            conn.close()


async def ingest(acct, url, **extra):
    return await acct.request("POST", "/v1/models/ingest", json={"url": url, **extra})


async def assert_nothing_stored(service, acct, account_before: dict, label: str = "") -> None:
    """No file in storage at all (``.tmp`` included), no rows, no charge."""
    files = [p for p in service.runtime.storage.root.rglob("*") if p.is_file()]
    assert files == [], f"{label} left files {files}"
    assert not any(service.runtime.storage.tmp_dir.iterdir()), f"{label} left something in .tmp"
    async with service.runtime.unit_of_work() as session:
        for table in (Model3D, Render):
            count = await session.execute(select(func.count()).select_from(table).where(table.account_id == acct.id))
            assert count.scalar_one() == 0, f"{label} left a {table.__name__} row"
    assert (await acct.request("GET", "/v1/account")).json()["data"] == account_before, f"{label} charged"


async def account_state(acct) -> dict:
    return (await acct.request("GET", "/v1/account")).json()["data"]


async def test_url_required_and_invalid_url(service, listener):
    acct = await service.account(credits=3)
    before = await account_state(acct)
    for body in ({}, {"url": None}, {"url": ""}, {"renderSettings": {"aspect": "1:1"}}):
        assert_error(await acct.request("POST", "/v1/models/ingest", json=body), 400, "url_required")
    for url in [42, 1.5, True, ["http://example.com/a.glb"], {"href": "http://example.com/a.glb"}, *MALFORMED]:
        response = await ingest(acct, url)
        assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_url", (
            f"{url!r}: {response.text}"
        )
    # The listener answers 404 here: an HTTP error status is not a model.
    assert_error(await ingest(acct, f"http://127.0.0.1:{listener.port}/missing"), 400, "invalid_url")
    assert listener.accepted == 0
    await assert_nothing_stored(service, acct, before)


async def test_ssrf_spellings_are_refused_without_a_connection(service, listener):
    assert service.runtime.settings.ingest_allow_private is False  # the default
    acct = await service.account(credits=3)
    before = await account_state(acct)
    wrong: list[str] = []
    for template in SSRF_URLS:
        url = template.format(port=listener.port)
        response = await ingest(acct, url)
        body = response.json()
        if response.status_code != 400 or body.get("error", {}).get("code") != "invalid_url":
            wrong.append(f"{url}: {response.status_code} {response.text}")
        elif not body["error"]["message"]:
            wrong.append(f"{url}: empty message")
        if listener.accepted:
            wrong.append(f"{url}: the listener accepted {listener.accepted} connection(s)")
            break
    assert wrong == [], "\n".join(wrong)
    assert listener.accepted == 0 and listener.paths == []
    await assert_nothing_stored(service, acct, before)
    # The listener is reachable, so zero connections above means refused, not unreachable.
    service.runtime.settings.ingest_allow_private = True
    assert (await ingest(acct, f"http://127.0.0.1:{listener.port}/model.glb")).status_code == 201
    assert listener.accepted == 1


async def test_allowed_private_glb_ingests_downloads_and_dedups(service, listener):
    service.runtime.settings.ingest_allow_private = True
    acct = await service.account(credits=3)
    url = f"http://127.0.0.1:{listener.port}/model.glb"
    first = await ingest(acct, url, renderSettings={"aspect": "1:1"})
    assert first.status_code == 201, first.text
    data = first.json()["data"]
    assert set(data) == {"modelId", "renderId"}
    model = (await acct.request("GET", f"/v1/models/{data['modelId']}")).json()["data"]
    assert model["sha256"] == hashlib.sha256(listener.glb).hexdigest()
    assert model["fileSize"] == len(listener.glb)
    # Content-Disposition said "../../etc/my chair;rm -rf.glb": only a plain name survives.
    assert "/" not in model["originalName"] and ";" not in model["originalName"], model["originalName"]
    assert model["originalName"].endswith(".glb")
    assert [r["id"] for r in model["renders"]] == [data["renderId"]]
    assert model["renders"][0]["renderSettings"]["aspect"] == "1:1"
    file = await acct.request("GET", f"/v1/models/{data['modelId']}/file")
    assert file.status_code == 200 and file.headers["content-type"] == "model/gltf-binary"
    assert file.content == listener.glb

    again = await ingest(acct, url)
    assert again.status_code == 201, again.text
    assert again.json()["data"]["duplicate"] is True
    assert again.json()["data"]["modelId"] == data["modelId"]
    assert again.json()["data"]["renderId"] != data["renderId"]
    assert (await acct.request("GET", "/v1/models")).json()["meta"]["total"] == 1
    assert (await account_state(acct))["credits"] == 1  # one render each
    assert not any(service.runtime.storage.tmp_dir.iterdir())


async def test_redirects_are_followed_five_times_and_rechecked(service, listener):
    service.runtime.settings.ingest_allow_private = True
    acct = await service.account(credits=3)
    ok = await ingest(acct, f"http://127.0.0.1:{listener.port}/hop/4")  # exactly 5 redirects
    assert ok.status_code == 201, ok.text
    before = await account_state(acct)
    error = assert_error(await ingest(acct, f"http://127.0.0.1:{listener.port}/hop/5"), 400, "invalid_url")
    assert "redirect" in error["message"].lower(), error
    for target in ALWAYS_REFUSED_TARGETS:
        accepted = listener.accepted
        response = await ingest(acct, f"http://127.0.0.1:{listener.port}/redirect-to?{target}")
        assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_url", (
            f"{target}: {response.text}"
        )
        assert listener.accepted == accepted + 1, f"{target}: followed past the first hop"
    assert (await account_state(acct)) == before
    assert (await acct.request("GET", "/v1/models")).json()["meta"]["total"] == 1
    assert not any(service.runtime.storage.tmp_dir.iterdir())


async def test_a_zip_by_url_is_invalid_format(service, listener):
    service.runtime.settings.ingest_allow_private = True
    acct = await service.account(credits=3)
    before = await account_state(acct)
    error = assert_error(await ingest(acct, f"http://127.0.0.1:{listener.port}/archive.zip"), 400, "invalid_format")
    assert "GLB" in error["message"] or "glTF" in error["message"], error
    await assert_nothing_stored(service, acct, before)


async def test_oversized_bodies_are_file_too_large_and_leave_nothing(service, listener):
    service.runtime.settings.ingest_allow_private = True
    service.runtime.settings.upload_limit_bytes = 64 * 1024
    acct = await service.account(credits=3)
    before = await account_state(acct)
    for path in ("/big-no-length", "/big-declared"):
        assert_error(await ingest(acct, f"http://127.0.0.1:{listener.port}{path}"), 400, "file_too_large")
        await assert_nothing_stored(service, acct, before, path)
    service.runtime.settings.upload_limit_bytes = len(listener.glb) - 1  # one byte short of the model
    assert_error(await ingest(acct, f"http://127.0.0.1:{listener.port}/model.glb"), 400, "file_too_large")
    await assert_nothing_stored(service, acct, before, "model.glb")
    service.runtime.settings.upload_limit_bytes = len(listener.glb)  # exactly the limit is allowed
    assert (await ingest(acct, f"http://127.0.0.1:{listener.port}/model.glb")).status_code == 201


@pytest.mark.slow  # waits out a real timeout; tests/ingest/test_fetch.py has the quick one
async def test_a_stalling_server_is_timeout(service, listener):
    service.runtime.settings.ingest_allow_private = True
    service.runtime.settings.ingest_timeout_seconds = 1.0
    acct = await service.account(credits=3)
    before = await account_state(acct)
    stalling = StallingListener()
    try:
        # Accepts and never answers; then a body that trickles for 5 s.
        assert_error(await ingest(acct, f"http://127.0.0.1:{stalling.port}/model.glb"), 408, "timeout")
        assert_error(await ingest(acct, f"http://127.0.0.1:{listener.port}/slow"), 408, "timeout")
    finally:
        stalling.close()
    assert stalling.held, "the stalling listener was never reached"
    await assert_nothing_stored(service, acct, before)
    assert (await service.client.get("/v1/health")).status_code == 200
    assert (await ingest(acct, f"http://127.0.0.1:{listener.port}/model.glb")).status_code == 201


async def test_no_credits_is_402_and_nothing_stored(service, listener):
    service.runtime.settings.ingest_allow_private = True
    acct = await service.account(credits=0, free=0)
    before = await account_state(acct)
    assert_error(await ingest(acct, f"http://127.0.0.1:{listener.port}/model.glb"), 402, "no_credits")
    assert listener.accepted == 1
    await assert_nothing_stored(service, acct, before)


class FileServer(LocalHTTPServer):
    """Serves fixed bytes by path on 127.0.0.1 and records every path asked for."""

    def __init__(self, files: dict[str, bytes]) -> None:
        super().__init__(_FileHandler)
        self.files = files
        self.paths: list[str] = []


class _FileHandler(BaseHTTPRequestHandler):
    server: FileServer

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        self.server.paths.append(self.path)
        body = self.server.files.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")


def _gltf_pointing_at(url: str) -> bytes:
    doc, _ = b.triangle_document()
    doc["buffers"][0]["uri"] = url
    doc["images"] = [{"uri": url.replace(".bin", ".png")}]
    return json.dumps(doc).encode()


@pytest.mark.slow
async def test_hostile_models_by_url_are_refused_and_their_uris_never_fetched(service, tmp_path):
    """URL ingest feeds the same validation as uploads: every hostile GLB/glTF case served by URL is
    refused with its code, and a glTF whose buffer/image URIs point back at the server is refused
    without the server ever being asked for them."""
    service.runtime.settings.ingest_allow_private = True
    acct = await service.account(credits=3)
    before = await account_state(acct)
    files: dict[str, tuple[bytes, str]] = {}
    (tmp_path / "sentinel").mkdir()
    for name, build, code, _hint in ALL_CASES:
        folder = tmp_path / name
        folder.mkdir()
        data = build(folder).read_bytes()
        if data.startswith(b"glTF") or data.lstrip().startswith(b"{"):
            files[f"/{name}"] = (data, code)
    assert len(files) >= 20
    with FileServer({path: data for path, (data, _) in files.items()}) as server:
        port = server.server_address[1]
        server.files["/back.gltf"] = _gltf_pointing_at(f"http://127.0.0.1:{port}/secret.bin")
        files["/back.gltf"] = (server.files["/back.gltf"], "invalid_model")
        wrong = []
        for path, (_, code) in files.items():
            response = await ingest(acct, f"http://127.0.0.1:{port}{path}")
            if response.status_code != 400 or response.json()["error"]["code"] != code:
                wrong.append(f"{path}: expected {code}, got {response.status_code} {response.text}")
        assert wrong == [], "\n".join(wrong)
        assert sorted(server.paths) == sorted(files), "the server was asked for something else"
    await assert_nothing_stored(service, acct, before)
