"""The server's own limits on waiting (issue 11): a request body that does not arrive in time is
408 ``timeout`` with the envelope (and an upload that stalls leaves no temporary file); a SQLite
write lock that stays taken past ``DXGL_DB_BUSY_SECONDS`` is 503 ``service_unavailable`` with
``Retry-After``, never a 500, and the next request after it is released succeeds.

These run against a real uvicorn server (a stalled body needs a real socket). Nothing here
depends on speed: the timeouts are what is under test, and each wait ends on the server's answer.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import httpx
import pytest

from dxgl.config import Settings
from dxgl.runtime import Runtime
from dxgl.services import accounts, auth
from tests.api.helpers import minimal_glb
from tests.live_server import LiveServer
from tests.pipeline.test_quick_start import make_token

pytestmark = pytest.mark.slow  # real servers waiting out timeouts: not in the quick subset

HANG_GUARD_S = 120


async def _stalled_request(port: int, head: str, first_part: bytes) -> tuple[int, dict]:
    """Send the headers and part of the body, then nothing: the answer the server gives."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head.encode() + first_part)
    await writer.drain()
    async with asyncio.timeout(HANG_GUARD_S):
        raw = await reader.read()
    writer.close()
    status_line, _, rest = raw.partition(b"\r\n")
    _, _, body = rest.partition(b"\r\n\r\n")
    return int(status_line.split()[1]), json.loads(body)


def _head(port: int, method: str, path: str, token: str, content_type: str, length: int) -> str:
    return (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
    )


async def test_a_body_that_does_not_arrive_in_time_is_408(tmp_path: Path, database_url: str) -> None:
    settings = Settings(
        data_dir=tmp_path / "data", database_url=database_url, run_renders_in_process=False, body_timeout_seconds=0.5
    )
    token = await make_token(settings, credits=5)
    with LiveServer(settings) as server:
        body = b'{"sha256": "' + b"0" * 64 + b'"}'
        status, answer = await _stalled_request(
            server.port,
            _head(server.port, "POST", "/v1/models/check-hash", token, "application/json", len(body)),
            body[:10],
        )
        assert status == 408, answer
        assert answer["error"]["code"] == "timeout" and "did not arrive" in answer["error"]["message"], answer

        boundary = "stallboundary"
        upload = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="m.glb"\r\n\r\n'.encode()
            + minimal_glb(b"stall")
            + f"\r\n--{boundary}--\r\n".encode()
        )
        status, answer = await _stalled_request(
            server.port,
            _head(server.port, "POST", "/v1/models", token, f"multipart/form-data; boundary={boundary}", len(upload)),
            upload[: len(upload) // 2],
        )
        assert status == 408, answer
        assert answer["error"]["code"] == "timeout" and "stalled" in answer["error"]["message"], answer
        temp = server.runtime.storage.temp_path().parent
        assert [p.name for p in temp.iterdir()] == []  # the half upload is gone
        async with httpx.AsyncClient(base_url=server.url) as client:  # and nothing was stored
            listing = await client.get("/v1/models", headers={"Authorization": f"Bearer {token}"})
        assert listing.json()["meta"]["total"] == 0


async def test_sqlite_write_lock_held_past_the_busy_limit_is_503_then_recovers(tmp_path: Path) -> None:
    db = tmp_path / "dxgl.sqlite3"
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=f"sqlite+aiosqlite:///{db}",
        run_renders_in_process=False,
        db_busy_seconds=0.5,
    )
    rt = await Runtime.start(settings)  # migrates the new database
    try:
        async with rt.unit_of_work() as session:
            account = await accounts.create_account(session, email="busy@example.com", paid_credits=5)
            _, token = await auth.create_token(session, account=account)
    finally:
        await rt.close()
    headers = {"Authorization": f"Bearer {token}"}
    with LiveServer(settings) as server:
        async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=HANG_GUARD_S) as client:
            assert (await client.get("/v1/account")).status_code == 200
            holder = sqlite3.connect(db, isolation_level=None)
            holder.execute("BEGIN IMMEDIATE")  # another writer that does not let go
            try:
                for method, url, kwargs in [
                    ("GET", "/v1/account", {}),
                    ("POST", "/v1/models/check-hash", {"json": {"sha256": "0" * 64}}),
                    ("POST", "/graphql", {"json": {"query": "{ account { id } }"}}),
                ]:
                    r = await client.request(method, url, **kwargs)
                    if url.startswith("/v1"):
                        assert r.status_code == 503, (url, r.status_code, r.text)
                        assert r.headers.get("retry-after") == "1", (url, r.headers)
                        assert r.json()["error"]["code"] == "service_unavailable", r.text
                    else:  # GraphQL answers errors in its own shape, with the same code
                        error = r.json()["errors"][0]["extensions"]
                        assert error["code"] == "service_unavailable" and error["status"] == 503, r.text
            finally:
                holder.execute("ROLLBACK")
                holder.close()
            assert (await client.get("/v1/account")).status_code == 200  # recovered at once
