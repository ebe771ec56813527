"""Helpers for GraphQL tests: POST an operation as an account (or anonymously) and read errors."""

from __future__ import annotations

from typing import Any

import httpx
import pytest


async def gql(
    client_or_account: Any, query: str, variables: dict[str, Any] | None = None, **kwargs: Any
) -> dict[str, Any]:
    """POST /graphql; returns the decoded body (GraphQL answers 200 with data and/or errors)."""
    body = {"query": query, "variables": variables or {}}
    if isinstance(client_or_account, httpx.AsyncClient):
        response = await client_or_account.post("/graphql", json=body, **kwargs)
    else:
        response = await client_or_account.request("POST", "/graphql", json=body, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()


def error_codes(result: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in result.get("errors") or []]


def only_error(result: dict[str, Any]) -> dict[str, Any]:
    errors = result.get("errors") or []
    assert len(errors) == 1, result
    return errors[0]


@pytest.fixture
def gql_run():
    return gql


UPLOAD = """
mutation($file: Upload!, $settings: JSON) {
  uploadModel(file: $file, renderSettings: $settings) {
    duplicate
    model { id originalName sha256 fileSize }
    render { id modelId status renderSettings }
  }
}
"""


async def gql_upload(account: Any, content: bytes, *, name: str = "model.glb", settings: Any = None) -> dict[str, Any]:
    """uploadModel through the GraphQL multipart request spec (operations + map + the file part)."""
    import json

    operations = {"query": UPLOAD, "variables": {"file": None, "settings": settings}}
    response = await account.request(
        "POST",
        "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.file"]})},
        files={"0": (name, content, "application/octet-stream")},
    )
    assert response.status_code == 200, response.text
    return response.json()
