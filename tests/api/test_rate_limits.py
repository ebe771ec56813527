"""Rate limits (docs/api.md, "Rate limits"): a token bucket per token, a stricter one for uploads
and URL ingest, 429 rate_limited with Retry-After and RateLimit-*, GraphQL's extensions.code, health
never limited; with Redis the buckets are shared by every API process.

Refill rates here are tiny (one token per 1000 s), so nothing depends on how fast a test runs: a
bucket of 3 allows exactly 3 requests in any test's lifetime."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from dxgl.config import Settings
from dxgl.runtime import Runtime
from dxgl.services import accounts, auth
from dxgl.services.auth import Caller
from dxgl.services.rate_limit import Bucket, bucket_key
from tests.api.helpers import assert_error, minimal_glb
from tests.conftest import REDIS_URL, service_missing
from tests.conftest import running_service as _service
from tests.live_server import ServeProcess, clean_env

SLOW_REFILL = 0.001  # one token per 1000 s


def _settings(tmp_path: Path, sqlite_template: Path, **limits: Any) -> Settings:
    db = tmp_path / "limits.sqlite3"
    shutil.copyfile(sqlite_template, db)
    return Settings(
        data_dir=tmp_path / "data",
        database_url=f"sqlite+aiosqlite:///{db}",
        redis_url="",
        run_renders_in_process=False,
        **limits,
    )


async def test_a_burst_beyond_the_limit_is_429_with_its_headers(tmp_path, sqlite_template):
    settings = _settings(tmp_path, sqlite_template, rate_limit_rps=SLOW_REFILL, rate_limit_burst=3)
    async with _service(settings) as service:
        owner = await service.account()
        seen = []
        for _ in range(3):
            r = await owner.request("GET", "/v1/account")
            assert r.status_code == 200
            assert r.headers["ratelimit-limit"] == "3"
            seen.append(r.headers["ratelimit-remaining"])
        assert seen == ["2", "1", "0"]
        refused = await owner.request("GET", "/v1/account")
        assert_error(refused, 429, "rate_limited")
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.headers["ratelimit-limit"] == "3"
        assert refused.headers["ratelimit-remaining"] == "0"
        assert int(refused.headers["ratelimit-reset"]) >= int(refused.headers["retry-after"])
        # every authenticated route shares the bucket, a creating POST and a download included
        assert_error(await owner.request("POST", "/v1/renders", json={}), 429, "rate_limited")
        assert_error(await owner.request("GET", "/v1/models/m_none/file"), 429, "rate_limited")
        # health is never limited, nor another token (of the same account)
        for _ in range(10):
            assert (await service.client.get("/v1/health")).status_code == 200
        async with service.runtime.unit_of_work() as session:
            account = await accounts.get_by_email(session, owner.email)
            _, other = await auth.create_token(session, account=account)
        r = await service.client.get("/v1/account", headers={"Authorization": f"Bearer {other}"})
        assert r.status_code == 200


async def test_graphql_answers_rate_limited_in_extensions_code(tmp_path, sqlite_template):
    settings = _settings(tmp_path, sqlite_template, rate_limit_rps=SLOW_REFILL, rate_limit_burst=2)
    async with _service(settings) as service:
        owner = await service.account()
        query = {"query": "{ account { id } ledger { totalCount } }"}
        first = await owner.request("POST", "/graphql", json=query)
        assert first.json()["data"]["account"]["id"] == owner.id  # two fields, one request counted
        assert (await owner.request("GET", "/v1/account")).status_code == 200  # REST shares the bucket
        refused = (await owner.request("POST", "/graphql", json=query)).json()
        codes = {e["extensions"]["code"] for e in refused["errors"]}
        assert codes == {"rate_limited"}, refused
        assert refused["errors"][0]["extensions"]["status"] == 429


async def test_uploads_and_ingest_have_a_stricter_bucket(tmp_path, sqlite_template):
    settings = _settings(
        tmp_path, sqlite_template, rate_limit_rps=50, rate_limit_burst=200, rate_limit_uploads_per_minute=0.06
    )  # 1 upload, then one per 1000 s
    async with _service(settings) as service:
        owner = await service.account()
        assert (await owner.upload(minimal_glb(b"rl-1"))).status_code == 201
        refused = await owner.upload(minimal_glb(b"rl-2"))
        assert_error(refused, 429, "rate_limited")
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.headers["ratelimit-limit"] == "1"
        ingest = await owner.request("POST", "/v1/models/ingest", json={"url": "https://example.com/m.glb"})
        assert_error(ingest, 429, "rate_limited")
        png = b"\x89PNG\r\n\x1a\n"
        overlay = await owner.request("POST", "/v1/overlays", files={"file": ("o.png", png, "image/png")})
        assert_error(overlay, 429, "rate_limited")
        assert (await owner.request("GET", "/v1/models")).status_code == 200  # other requests go on


async def test_zero_turns_the_limit_off(tmp_path, sqlite_template):
    settings = _settings(tmp_path, sqlite_template, rate_limit_rps=0, rate_limit_burst=1)
    async with _service(settings) as service:
        owner = await service.account()
        for _ in range(5):
            r = await owner.request("GET", "/v1/account")
            assert r.status_code == 200 and "ratelimit-limit" not in r.headers


def test_portal_sessions_count_per_account_and_tokens_per_token() -> None:
    one = Caller(account_id="acct", token_id="session-1", scopes=frozenset(), portal_session=True)
    two = Caller(account_id="acct", token_id="session-2", scopes=frozenset(), portal_session=True)
    token = Caller(account_id="acct", token_id="tok", scopes=frozenset())
    assert bucket_key(one, Bucket.REQUESTS) == bucket_key(two, Bucket.REQUESTS)
    assert bucket_key(token, Bucket.REQUESTS) != bucket_key(one, Bucket.REQUESTS)
    assert bucket_key(token, Bucket.REQUESTS) != bucket_key(token, Bucket.UPLOADS)


# --- two API processes on Redis ---------------------------------------------------------------------


async def _token(settings: Settings) -> str:
    rt = await Runtime.start(settings)
    try:
        async with rt.unit_of_work() as session:
            account = await accounts.create_account(session, email=f"{uuid.uuid4().hex[:12]}@example.com")
            _, raw = await auth.create_token(session, account=account)
        return raw
    finally:
        await rt.close()


def _redis_up() -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=5).ping()
    except Exception as exc:
        service_missing("Redis", exc)


@pytest.mark.slow  # two `dxgl serve` processes
@pytest.mark.parametrize("shared", [True, False], ids=["redis", "in-process"])
def test_two_api_processes_share_the_limit_through_redis(tmp_path, sqlite_template, shared):
    """Burst 4 per token: 2 requests to each process use it up when the bucket is shared, so the
    next is refused by either; without Redis each process has its own bucket and both still answer."""
    _redis_up()
    settings = _settings(tmp_path, sqlite_template)
    token = asyncio.run(_token(settings))
    env = clean_env(
        DXGL_DATA_DIR=str(settings.data_dir),
        DXGL_DATABASE_URL=settings.database_url,
        DXGL_REDIS_URL=REDIS_URL if shared else "",
        DXGL_RATE_LIMIT_RPS=str(SLOW_REFILL),
        DXGL_RATE_LIMIT_BURST="4",
        DXGL_RUN_RENDERS_IN_PROCESS="false",
    )
    headers = {"Authorization": f"Bearer {token}"}
    servers = [ServeProcess(env), ServeProcess(env)]
    try:
        one, two = (server.start(expect_token=False) for server in servers)  # a database URL: no bootstrap token
        for server in (one, two, one, two):
            assert httpx.get(f"{server.url}/v1/account", headers=headers, timeout=30).status_code == 200
        after = [httpx.get(f"{s.url}/v1/account", headers=headers, timeout=30) for s in (one, two)]
    finally:
        for server in servers:
            server.stop()
    if shared:
        for r in after:
            assert_error(r, 429, "rate_limited")
            assert int(r.headers["retry-after"]) >= 1
    else:
        assert [r.status_code for r in after] == [200, 200]
