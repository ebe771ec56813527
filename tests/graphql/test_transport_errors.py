"""Requests refused before GraphQL runs (method, content type, JSON, batching) answer with the
GraphQL error shape and a code from the contract, never plain text and never a 500."""

from __future__ import annotations

import json

ACCOUNT = "{ account { id } }"


def _refused(response, code: str, status: int) -> str:
    """The one error of a transport refusal; returns its message."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert set(body) == {"errors"}, body
    (error,) = body["errors"]
    assert error["extensions"] == {"code": code, "status": status}, body
    assert error["message"]
    return error["message"]


async def test_batching_is_refused_with_invalid_request(service):
    acct = await service.account()
    response = await acct.request("POST", "/graphql", json=[{"query": ACCOUNT}, {"query": ACCOUNT}])
    assert "Batching" in _refused(response, "invalid_request", 400)


async def test_a_mutation_over_get_is_method_not_allowed(service):
    acct = await service.account()
    response = await acct.request("GET", "/graphql", params={"query": 'mutation { deleteRender(id: "x") { id } }'})
    assert "POST" in _refused(response, "method_not_allowed", 405)
    assert response.headers["allow"] == "POST"
    # A query over GET still answers.
    ok = await acct.request("GET", "/graphql", params={"query": ACCOUNT})
    assert ok.status_code == 200 and ok.json()["data"]["account"]["id"] == acct.id


async def test_other_methods_are_method_not_allowed(service):
    acct = await service.account()
    for method in ("PUT", "DELETE", "PATCH"):
        response = await acct.request(method, "/graphql", json={"query": ACCOUNT})
        assert method in _refused(response, "method_not_allowed", 405)
        assert response.headers["allow"] == "GET, POST"


async def test_unsupported_content_type_is_invalid_request(service):
    acct = await service.account()
    for content_type in ("text/plain", "application/x-www-form-urlencoded"):
        response = await acct.request(
            "POST", "/graphql", content=json.dumps({"query": ACCOUNT}), headers={"Content-Type": content_type}
        )
        assert content_type in _refused(response, "invalid_request", 400)
    response = await acct.request("POST", "/graphql", content=b"{}", headers={"Content-Type": ""})
    _refused(response, "invalid_request", 400)


async def test_bad_json_is_invalid_json(service):
    acct = await service.account()
    for body in (b"{", b"not json", b'{"query": "{ account { id } }"', b"\xff\xfe"):
        response = await acct.request("POST", "/graphql", content=body, headers={"Content-Type": "application/json"})
        _refused(response, "invalid_json", 400)
    response = await acct.request("GET", "/graphql", params={"query": ACCOUNT, "variables": "{nope"})
    _refused(response, "invalid_json", 400)


async def test_deeply_nested_json_is_invalid_json_not_a_server_error(service):
    acct = await service.account()
    headers = {"Content-Type": "application/json"}
    # A body of 100 000 nested arrays: past the recursion limit of the JSON decoder.
    response = await acct.request("POST", "/graphql", content=b"[" * 100_000 + b"]" * 100_000, headers=headers)
    assert "nested deeper" in _refused(response, "invalid_json", 400)
    # A renderSettings variable nested 30 000 levels, and one nested 500 (decodable, still refused).
    create = 'mutation($s: RenderSettingsInput) { createRender(modelId: "x", renderSettings: $s) { id } }'
    for levels in (30_000, 500):
        variables = '{"a":' * levels + "1" + "}" * levels
        body = '{"query": ' + json.dumps(create) + ', "variables": {"s": ' + variables + "}}"
        response = await acct.request("POST", "/graphql", content=body.encode(), headers=headers)
        assert "nested deeper" in _refused(response, "invalid_json", 400)
    # GET variables (a URL stays short: 2000 levels is past the decoder's recursion limit too).
    for levels in (2000, 500):
        variables = '{"s": ' + "[" * levels + "]" * levels + "}"
        get = await acct.request("GET", "/graphql", params={"query": ACCOUNT, "variables": variables})
        _refused(get, "invalid_json", 400)
    # The same through a multipart upload's operations field.
    operations = '{"query": "mutation($f: Upload!) { uploadModel(file: $f) { duplicate } }", "variables": ' + (
        '{"f": null, "x": ' + "[" * 30_000 + "]" * 30_000 + "}}"
    )
    response = await acct.request(
        "POST",
        "/graphql",
        data={"operations": operations, "map": json.dumps({"0": ["variables.f"]})},
        files={"0": ("m.glb", b"glTF", "application/octet-stream")},
    )
    _refused(response, "invalid_json", 400)
    # Ordinary nesting is fine.
    ok = await acct.request("POST", "/graphql", json={"query": ACCOUNT, "variables": {"a": [[[{"b": [1]}]]]}})
    assert ok.status_code == 200 and ok.json()["data"]["account"]["id"] == acct.id


async def test_malformed_operations_are_invalid_request(service):
    acct = await service.account()
    for body in ({"variables": {}}, {"query": 5}, {"query": ACCOUNT, "variables": [1]}):
        response = await acct.request("POST", "/graphql", json=body)
        _refused(response, "invalid_request", 400)
    # A subscription over HTTP: it runs over the websocket only.
    response = await acct.request("POST", "/graphql", json={"query": "subscription { renderUpdates { id } }"})
    assert "websocket" in _refused(response, "invalid_request", 400)


async def test_graphiql_is_still_served_to_browsers(service):
    response = await service.client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200 and "text/html" in response.headers["content-type"]
