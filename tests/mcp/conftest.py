"""MCP fixtures: a real API server (uvicorn, SQLite, renders in process at 160 px and 1 s), tokens
for it, a local HTTP server holding Duck.glb for URL ingest, and the SDK's clients on both
transports."""

from __future__ import annotations

import hashlib
import shutil
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client, ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult

from dxgl.config import Settings
from dxgl.runtime import Runtime
from dxgl.services import accounts, auth
from tests.assets import MODELS_DIR
from tests.ingest.counting_server import LocalHTTPServer
from tests.live_server import DXGL, ROOT, LiveServer, bearer, clean_env
from tests.pipeline.conftest import pipeline_settings

DUCK = MODELS_DIR / "Duck.glb"
# What every transport lists; the local-file upload only on stdio.
COMMON_TOOLS = {
    "ingest_model",
    "check_hash",
    "list_models",
    "get_model",
    "update_model",
    "quote",
    "create_render",
    "create_batch",
    "get_render",
    "list_renders",
    "wait_for_render",
}


@pytest.fixture
def mcp_settings(tmp_path: Path, sqlite_template: Path) -> Settings:
    db = tmp_path / "db" / "dxgl.sqlite3"
    db.parent.mkdir()
    shutil.copyfile(sqlite_template, db)
    # URL ingest from the test's own 127.0.0.1 file server, as a self-hosted network would allow.
    return pipeline_settings(tmp_path, f"sqlite+aiosqlite:///{db}", ingest_allow_private=True)


async def make_token(settings: Settings, *, scopes: str | None = None, credits: int = 20) -> str:
    """A new account with ``credits`` paid credits and a token (all scopes unless ``scopes``)."""
    rt = await Runtime.start(settings, migrate=False)
    try:
        async with rt.unit_of_work() as session:
            account = await accounts.create_account(
                session, email=f"mcp-{uuid.uuid4().hex[:10]}@example.com", paid_credits=credits, free_credits=0
            )
            _, raw = await auth.create_token(session, account=account, scopes=auth.parse_scopes(scopes))
        return raw
    finally:
        await rt.close()


async def revoke(settings: Settings, token: str) -> None:
    rt = await Runtime.start(settings, migrate=False)
    try:
        async with rt.unit_of_work() as session:
            assert await auth.revoke_tokens(session, prefix=token) == 1
    finally:
        await rt.close()


@pytest.fixture
def server(mcp_settings: Settings) -> Iterator[LiveServer]:
    with LiveServer(mcp_settings) as live:
        yield live


class _DuckHandler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        body = DUCK.read_bytes()
        self.send_response(200 if self.path == "/Duck.glb" else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def duck_url() -> Iterator[str]:
    with LocalHTTPServer(_DuckHandler) as files:
        yield f"http://127.0.0.1:{files.port}/Duck.glb"


def duck_sha256() -> str:
    return hashlib.sha256(DUCK.read_bytes()).hexdigest()


@asynccontextmanager
async def http_session(url: str, token: str | None) -> AsyncIterator[ClientSession]:
    """The SDK's streamable HTTP client on ``url``/mcp with a Bearer token (None: no header), initialised."""
    headers = bearer(token) if token is not None else {}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(60, read=600)) as client,
        streamable_http_client(f"{url}/mcp", http_client=client) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


@asynccontextmanager
async def http_client(url: str, token: str) -> AsyncIterator[Client]:
    """The SDK's high-level ``Client`` on ``url``/mcp: it negotiates the newest protocol revision
    (2026-07-28, no handshake) where ``http_session`` uses the initialize handshake."""
    async with (
        httpx2.AsyncClient(headers=bearer(token), timeout=httpx2.Timeout(60, read=600)) as http,
        Client(streamable_http_client(f"{url}/mcp", http_client=http)) as client,
    ):
        yield client


@asynccontextmanager
async def stdio_session(api_url: str, token: str) -> AsyncIterator[ClientSession]:
    """``dxgl mcp`` as a subprocess, through the SDK's stdio client, initialised."""
    assert DXGL[0] == sys.executable
    params = StdioServerParameters(
        command=DXGL[0],
        args=[*DXGL[1:], "mcp"],
        env=clean_env(DXGL_API_URL=api_url, DXGL_TOKEN=token),
        cwd=str(ROOT),
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


@dataclass
class Progress:
    """The progress notifications of one tool call."""

    seen: list[tuple[float, float | None, str | None]]

    async def __call__(self, progress: float, total: float | None, message: str | None) -> None:
        self.seen.append((progress, total, message))


async def call(session: ClientSession | Client, name: str, **arguments: Any) -> dict[str, Any]:
    """A tool call that must succeed: its structured content."""
    result = await session.call_tool(name, arguments)
    assert not result.is_error, (name, result.content)
    assert result.structured_content is not None
    return result.structured_content


async def refused(session: ClientSession | Client, name: str, **arguments: Any) -> dict[str, Any]:
    """A tool call that must fail with the REST error envelope: its ``error``."""
    result: CallToolResult = await session.call_tool(name, arguments)
    assert result.is_error, (name, result.content)
    assert result.structured_content is not None, result.content
    error = result.structured_content["error"]
    assert set(error) == {"code", "message", "status"}
    return dict(error)
