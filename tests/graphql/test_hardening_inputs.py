"""Over GraphQL too, text that cannot be stored is refused naming the field (issue 11, finding 6):
a lone UTF-16 surrogate in a title, SKU, tag or overlay name used to reach SQLite and fail there
(UnicodeEncodeError: a 500). The rule lives in the services, so REST and GraphQL share it; and
page arguments follow the REST rule (every limit above 100 is clamped)."""

from __future__ import annotations

import json

import pytest

from tests.api.helpers import minimal_glb
from tests.graphql.conftest import gql, gql_upload, only_error

UPDATE = "mutation($id: ID!) { updateModel(id: $id, %s) { id title sku tags } }"


async def _model(acct) -> str:
    result = await gql_upload(acct, minimal_glb(b"gql-surrogate"))
    assert "errors" not in result, result
    return result["data"]["uploadModel"]["model"]["id"]


async def _raw(acct, body: bytes) -> dict:
    """POST a JSON body as written: ``\\ud800`` escapes reach the server as lone surrogates."""
    response = await acct.request("POST", "/graphql", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize(
    "argument, field",
    [("title: $v", "title"), ("sku: $v", "sku"), ("tags: [$v]", "tags")],
)
async def test_a_lone_surrogate_in_a_variable_is_refused_naming_the_field(service, argument, field):
    acct = await service.account()
    model_id = await _model(acct)
    kind = "String!"
    query = UPDATE.replace("mutation($id: ID!)", f"mutation($id: ID!, $v: {kind})") % argument
    body = json.dumps({"query": query, "variables": {"id": model_id, "v": "PLACEHOLDER"}}).replace(
        "PLACEHOLDER", "bad \\ud800 text"
    )
    error = only_error(await _raw(acct, body.encode()))
    assert error["extensions"]["code"] == "invalid_request", error
    assert field in error["message"] and "surrogate" in error["message"], error
    detail = await gql(acct, "query($id: ID!) { model(id: $id) { title sku tags } }", {"id": model_id})
    assert detail["data"]["model"] == {"title": None, "sku": None, "tags": []}  # nothing stored


async def test_every_limit_above_100_is_clamped_over_graphql(service):
    acct = await service.account()
    await _model(acct)
    for limit in (101, 2147483647):
        result = await gql(acct, "query($l: Int) { models(limit: $l) { limit items { id } } }", {"l": limit})
        assert "errors" not in result, result
        assert result["data"]["models"]["limit"] == 100
