"""An MCP server for agents (docs/mcp.md)."""
