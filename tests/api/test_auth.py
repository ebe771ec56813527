"""Bearer tokens: every documented 401/403, hashes only at rest, CLI-compatible formats."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from dxgl.services.auth import hash_token
from dxgl.tables import Account, ApiToken
from dxgl.timeutil import utcnow
from tests.api.helpers import assert_error


async def test_token_shape_and_only_hash_stored(service):
    acct = await service.account()
    assert acct.token.startswith("dxgl_sk_") and len(acct.token) >= len("dxgl_sk_") + 32
    async with service.runtime.unit_of_work() as s:
        row = (await s.execute(select(ApiToken).where(ApiToken.account_id == acct.id))).scalar_one()
    assert row.token_hash == hash_token(acct.token)
    assert acct.token not in (row.prefix, row.token_hash, row.scopes)
    assert acct.token.startswith(row.prefix) and len(row.prefix) < 20


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic dxgl_sk_abc",
        "Bearer dxgl_sk_short",
        "Bearer " + "A" * 10240,
        "Bearer dxgl_sk_" + "é" * 46,
        "Bearer dxgl_sk_" + "a" * 46,  # right length, wrong checksum
    ],
)
async def test_malformed_headers_are_401(service, header):
    headers = {} if header is None else {"Authorization": header.encode("utf-8")}  # raw non-ASCII bytes
    r = await service.client.get("/v1/account", headers=headers)
    assert_error(r, 401, "unauthorized")


async def test_unknown_token_with_valid_checksum_is_401(service):
    acct = await service.account()
    async with service.runtime.unit_of_work() as s:
        from dxgl.services import auth

        account = await s.get_one(Account, acct.id)
        _, raw = await auth.create_token(s, account=account)
        await s.execute(update(ApiToken).where(ApiToken.token_hash == hash_token(raw)).values(token_hash="0" * 64))
    r = await service.client.get("/v1/account", headers={"Authorization": f"Bearer {raw}"})
    assert_error(r, 401, "unauthorized")


async def test_revoked_expired_suspended_and_scope(service):
    acct = await service.account()
    r = await acct.request("GET", "/v1/account")
    assert r.status_code == 200

    async with service.runtime.unit_of_work() as s:
        await s.execute(
            update(ApiToken).where(ApiToken.account_id == acct.id).values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert_error(await acct.request("GET", "/v1/account"), 401, "token_expired")

    async with service.runtime.unit_of_work() as s:
        await s.execute(
            update(ApiToken).where(ApiToken.account_id == acct.id).values(expires_at=None, revoked_at=utcnow())
        )
    assert_error(await acct.request("GET", "/v1/account"), 401, "unauthorized")

    other = await service.account()
    async with service.runtime.unit_of_work() as s:
        await s.execute(update(Account).where(Account.id == other.id).values(status="suspended"))
    assert_error(await other.request("GET", "/v1/account"), 403, "forbidden")

    reader = await service.account(scopes="models:read")
    assert_error(await reader.request("GET", "/v1/account"), 403, "insufficient_scope")
    assert_error(await reader.request("POST", "/v1/renders", json={"modelId": "x"}), 403, "insufficient_scope")
    assert (await reader.request("GET", "/v1/models")).status_code == 200


async def test_account_reports_paid_and_free_credits(service):
    acct = await service.account(credits=7, free=2)
    r = await acct.request("GET", "/v1/account")
    assert r.json() == {"data": {"id": acct.id, "email": acct.email, "credits": 9, "paidCredits": 7, "freeCredits": 2}}


async def test_health_without_auth(service):
    r = await service.client.get("/v1/health")
    assert r.status_code == 200
    assert r.json()["data"]["database"] == "ok"


async def test_upload_needs_only_models_write(service, duck):
    uploader = await service.account(scopes="models:write,models:read")
    r = await uploader.upload(duck)
    assert r.status_code == 201, r.text
    assert_error(
        await uploader.request("POST", "/v1/renders", json={"modelId": r.json()["data"]["modelId"]}),
        403,
        "insufficient_scope",
    )
