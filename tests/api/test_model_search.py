"""Model search (dxgl's extension): ``GET /v1/models?search=`` and GraphQL ``models(search:)`` keep the
models whose title, SKU or original file name holds the text, case-insensitive; ``%`` and ``_`` are
literal; at most 200 characters."""

from __future__ import annotations

from tests.api.helpers import assert_error, minimal_glb
from tests.graphql.conftest import error_codes, gql


async def _model(acct, tag: bytes, name: str, **fields) -> str:
    r = await acct.upload(minimal_glb(tag), name=name)
    assert r.status_code == 201, r.text
    model_id = r.json()["data"]["modelId"]
    if fields:
        patched = await acct.request("PATCH", f"/v1/models/{model_id}", json=fields)
        assert patched.status_code == 200, patched.text
    return model_id


async def _rest(acct, search: str) -> set[str]:
    r = await acct.request("GET", "/v1/models", params={"search": search})
    assert r.status_code == 200, r.text
    assert r.json()["meta"]["total"] == len(r.json()["data"])
    return {m["id"] for m in r.json()["data"]}


async def _graphql(acct, search: str) -> set[str]:
    result = await gql(acct, "query($q: String) { models(search: $q) { totalCount items { id } } }", {"q": search})
    page = result["data"]["models"]
    assert page["totalCount"] == len(page["items"])
    return {m["id"] for m in page["items"]}


async def test_search_title_sku_and_original_name(service):
    acct = await service.account(credits=10)
    other = await service.account(credits=10)
    chair = await _model(acct, b"chair", "chair.glb", title="Red Chair", sku="CH-001")
    sofa = await _model(acct, b"sofa", "sofa.glb", title="100% Cotton_Sofa", sku="SOFA-9")
    lamp = await _model(acct, b"lamp", "Lamp_Big.GLB")
    await _model(other, b"other-chair", "chair.glb", title="Red Chair")

    cases = {
        "chair": {chair},  # title and file name; never the other account's chair
        "RED CH": {chair},  # case-insensitive
        "ch-0": {chair},  # SKU
        "sofa-9": {sofa},
        "lamp_b": {lamp},  # original file name, any case
        ".glb": {chair, sofa, lamp},
        "%": {sofa},  # literal percent sign
        "100%": {sofa},
        "_": {sofa, lamp},  # literal underscore: not "any character"
        "n_s": {sofa},
        "\\": set(),  # the escape character itself is literal
        "zebra": set(),
        "  chair  ": {chair},  # trimmed
        "": {chair, sofa, lamp},  # empty: no filter
    }
    for search, want in cases.items():
        assert await _rest(acct, search) == want, search
        assert await _graphql(acct, search) == want, search

    # Combined with the other filters, and archived models only with archived=true.
    archived = await acct.request("PATCH", f"/v1/models/{lamp}/archive")
    assert archived.status_code == 200
    assert await _rest(acct, "_") == {sofa}
    r = await acct.request("GET", "/v1/models", params={"search": "lamp", "archived": "true"})
    assert {m["id"] for m in r.json()["data"]} == {lamp}


async def test_search_is_bounded(service):
    acct = await service.account(credits=5)
    await _model(acct, b"bounded", "x.glb", title="a" * 200)
    assert len(await _rest(acct, "a" * 200)) == 1
    assert_error(await acct.request("GET", "/v1/models", params={"search": "a" * 201}), 400, "invalid_request")
    assert error_codes(
        await gql(acct, "query($q: String) { models(search: $q) { totalCount } }", {"q": "a" * 201})
    ) == ["invalid_request"]
    assert error_codes(
        await gql(acct, "query($q: String) { models(search: $q) { totalCount } }", {"q": "a\u0000b"})
    ) == ["invalid_request"]
    assert_error(await acct.request("GET", "/v1/models", params={"search": "a\x00b"}), 400, "invalid_request")


async def test_search_is_in_the_openapi_document(service):
    document = (await service.client.get("/v1/openapi.json")).json()
    params = {p["name"]: p for p in document["paths"]["/models"]["get"]["parameters"]}
    assert params["search"]["schema"] == {"type": "string", "maxLength": 200}
