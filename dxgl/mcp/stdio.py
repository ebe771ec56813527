"""``dxgl mcp``: the MCP server on stdio, a client of the service at DXGL_API_URL."""

from __future__ import annotations


def main() -> int:
    raise SystemExit("dxgl mcp is not built yet")
