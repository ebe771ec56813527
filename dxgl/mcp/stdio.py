"""``dxgl mcp``: the MCP server on stdio, a client of the service at DXGL_API_URL with DXGL_TOKEN.

Stdout is the protocol's channel: nothing else may print there (the SDK logs to stderr)."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from mcp.server.mcpserver import Context

from dxgl.config import get_settings
from dxgl.mcp.api import TIMEOUT, Api
from dxgl.mcp.tools import build_server


def main() -> int:
    settings = get_settings()
    if not settings.token:
        print("dxgl mcp: set DXGL_TOKEN to an API token (dxgl_sk_...) for DXGL_API_URL", file=sys.stderr)
        return 2
    base_url = settings.api_url.rstrip("/")
    headers = {"Authorization": f"Bearer {settings.token}"}

    @asynccontextmanager
    async def connect(ctx: Context) -> AsyncIterator[Api]:
        # The agent's own machine is the caller: one token, the configured service.
        async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=TIMEOUT) as client:
            yield Api(client, base_url)

    build_server(connect, local_files=True).run("stdio")
    return 0
