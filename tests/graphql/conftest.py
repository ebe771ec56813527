"""Helpers for GraphQL tests: POST an operation as an account (or anonymously) and read errors."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from dxgl.contract import SETTING_FIELDS
from dxgl.schema.vocabulary import RenderStatusEnum, enum_of

# Every field of RenderSettings, for a selection set.
SETTINGS_FIELDS = " ".join(SETTING_FIELDS)


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


def status_name(value: str) -> str:
    """The GraphQL enum value of a render status (``poster-done`` -> ``POSTER_DONE``)."""
    return str(RenderStatusEnum(value).name)


def rest_settings(rest: dict[str, Any]) -> dict[str, Any]:
    """REST's renderSettings JSON as the typed RenderSettings answers it: enum value names for the
    choices, null for every field the stored settings do not hold."""
    out: dict[str, Any] = {}
    for field in SETTING_FIELDS:
        value = rest.get(field)
        graphql_enum = enum_of(field)
        out[field] = graphql_enum(value).name if graphql_enum is not None and value is not None else value
    return out


@pytest.fixture
def gql_run():
    return gql


UPLOAD = """
mutation($file: Upload!, $settings: RenderSettingsInput, $key: String) {
  uploadModel(file: $file, renderSettings: $settings, idempotencyKey: $key) {
    duplicate
    model { id originalName sha256 fileSize }
    render { id modelId status renderSettings { quality effect length } }
  }
}
"""


async def gql_upload(
    account: Any, content: bytes, *, name: str = "model.glb", settings: Any = None, key: str | None = None
) -> dict[str, Any]:
    """uploadModel through the GraphQL multipart request spec (operations + map + the file part)."""
    import json

    operations = {"query": UPLOAD, "variables": {"file": None, "settings": settings, "key": key}}
    response = await account.request(
        "POST",
        "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.file"]})},
        files={"0": (name, content, "application/octet-stream")},
    )
    assert response.status_code == 200, response.text
    return response.json()
