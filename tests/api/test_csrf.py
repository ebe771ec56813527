"""The portal's session cookie on GraphQL over HTTP, on SQLite and PostgreSQL: it authenticates only
with the session's X-DXGL-CSRF header and an Origin equal to the public origin; otherwise the request
is a 401 in the GraphQL error shape before its body is read, so a cross-site form post (urlencoded,
text/plain, a multipart upload) runs nothing and creates nothing. A Bearer token works as always,
whatever cookie comes with it."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from dxgl.config import Settings
from tests.api.test_portal_auth import PUBLIC, model_count, portal_settings, signed_in
from tests.graphql.conftest import UPLOAD

ACCOUNT = "query { account { id } }"
EVIL = "http://evil.example"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return portal_settings(tmp_path, database_url)


def assert_unauthorized(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    errors = response.json()["errors"]
    assert len(errors) == 1 and errors[0]["extensions"] == {"code": "unauthorized", "status": 401}, errors
    assert errors[0]["message"]


def _multipart_upload(content: bytes) -> dict:
    operations = {"query": UPLOAD, "variables": {"file": None}}
    return {
        "data": {"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.file"]})},
        "files": {"0": ("model.glb", content, "application/octet-stream")},
    }


async def test_cookie_with_csrf_header_and_right_origin_runs_queries_and_mutations(service, duck):
    acct, signed = await signed_in(service)
    r = await service.client.post("/graphql", json={"query": ACCOUNT}, headers=signed.headers())
    assert r.status_code == 200, r.text
    assert r.json() == {"data": {"account": {"id": acct.id}}}
    # without an Origin header (same-origin GETs, non-browser clients) the CSRF token is enough
    r = await service.client.get("/graphql", params={"query": ACCOUNT}, headers=signed.headers(origin=None))
    assert r.status_code == 200 and r.json()["data"]["account"]["id"] == acct.id
    # a multipart upload from the portal itself works
    before = await model_count(service, acct.id)
    r = await service.client.post("/graphql", headers=signed.headers(), **_multipart_upload(duck.read_bytes()))
    assert r.status_code == 200 and "errors" not in r.json(), r.text
    assert await model_count(service, acct.id) == before + 1


async def test_missing_or_wrong_csrf_header_or_origin_is_401(service):
    _, signed = await signed_in(service)
    body = {"query": ACCOUNT}
    assert_unauthorized(await service.client.post("/graphql", json=body, headers=signed.headers(csrf=None)))
    assert_unauthorized(await service.client.post("/graphql", json=body, headers=signed.headers(csrf="forged")))
    assert_unauthorized(await service.client.post("/graphql", json=body, headers=signed.headers(origin=EVIL)))
    assert_unauthorized(await service.client.post("/graphql", json=body, headers=signed.headers(origin="null")))
    # exactly the public origin: another scheme or port is another origin
    assert_unauthorized(
        await service.client.post("/graphql", json=body, headers=signed.headers(origin="https://testserver"))
    )
    assert_unauthorized(
        await service.client.post("/graphql", json=body, headers=signed.headers(origin=PUBLIC + ":8080"))
    )
    assert_unauthorized(await service.client.get("/graphql", params=body, headers=signed.headers(csrf=None)))
    # a forged cookie with any header
    forged = {"Cookie": "dxgl_session=forged", "X-DXGL-CSRF": signed.csrf, "Origin": PUBLIC}
    assert_unauthorized(await service.client.post("/graphql", json=body, headers=forged))


async def test_cross_site_posts_with_the_cookie_are_refused_and_create_nothing(service, duck):
    acct, signed = await signed_in(service)
    before = await model_count(service, acct.id)
    mutation = 'mutation { createRender(modelId: "x") { id } }'
    for origin in (EVIL, None, PUBLIC):  # another site; a browser hiding it; even the right one, without the token
        headers = signed.headers(origin=origin, csrf=None)
        urlencoded = await service.client.post("/graphql", data={"query": mutation}, headers=headers)
        assert_unauthorized(urlencoded)
        plain = await service.client.post(
            "/graphql",
            content=json.dumps({"query": ACCOUNT}).encode(),
            headers={**headers, "Content-Type": "text/plain"},
        )
        assert_unauthorized(plain)
        upload = await service.client.post("/graphql", headers=headers, **_multipart_upload(duck.read_bytes()))
        assert_unauthorized(upload)
    # with a wrong token too
    upload = await service.client.post(
        "/graphql", headers=signed.headers(origin=EVIL, csrf="guess"), **_multipart_upload(duck.read_bytes())
    )
    assert_unauthorized(upload)
    assert await model_count(service, acct.id) == before == 0
    stored = service.runtime.storage.path(f"models/{acct.id}")
    assert not stored.exists() or not any(stored.iterdir())  # no file was stored either


async def test_bearer_still_works_with_a_cookie_present(service):
    token_holder = await service.account()
    _, other = await signed_in(service)
    # a valid cookie of another account, without its CSRF token, from another site: ignored
    headers = {**token_holder.headers, **other.headers(origin=EVIL, csrf=None)}
    r = await service.client.post("/graphql", json={"query": ACCOUNT}, headers=headers)
    assert r.status_code == 200 and r.json()["data"]["account"]["id"] == token_holder.id
    # and a bad token with a good cookie is the token's error, never the cookie's account
    bad = {"Authorization": "Bearer dxgl_sk_nope", **other.headers()}
    r = await service.client.post("/graphql", json={"query": ACCOUNT}, headers=bad)
    assert r.json()["errors"][0]["extensions"]["code"] == "unauthorized"
    assert r.json()["data"] is None


async def test_a_signed_out_session_no_longer_authenticates(service):
    _, signed = await signed_in(service)
    assert (await service.client.post("/auth/signout", headers=signed.headers())).status_code == 204
    service.client.cookies.clear()
    assert_unauthorized(await service.client.post("/graphql", json={"query": ACCOUNT}, headers=signed.headers()))


async def test_graphiql_page_still_opens_with_the_cookie(service):
    _, signed = await signed_in(service)
    r = await service.client.get("/graphql", headers={**signed.cookie_header, "Accept": "text/html"})
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
