"""deploy/sqlite_to_postgres.py: an embedded install's SQLite data, copied into PostgreSQL, serves the
same account, models and renders, and new rows (integer ids from sequences) still go in."""

from __future__ import annotations

import importlib.util
import uuid
from pathlib import Path

import pytest

from dxgl.config import Settings
from tests.api.helpers import minimal_glb
from tests.conftest import _pg_admin
from tests.conftest import running_service as running

SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "sqlite_to_postgres.py"


def _script():
    spec = importlib.util.spec_from_file_location("sqlite_to_postgres", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_sqlite_data_moves_to_postgres_and_keeps_working(tmp_path, postgres_url):
    script = _script()
    sqlite = Settings(data_dir=tmp_path / "data", run_renders_in_process=False)
    async with running(sqlite) as service:
        acct = await service.account(credits=5)
        upload = (await acct.upload(minimal_glb(b"move"), name="moved.glb")).json()["data"]
        before = (await acct.request("GET", "/v1/account")).json()["data"]
        render = (await acct.request("GET", f"/v1/renders/{upload['renderId']}")).json()["data"]
        token = acct.token

    name = f"dxgl_move_{uuid.uuid4().hex[:8]}"
    await _pg_admin(f'CREATE DATABASE "{name}"')
    target = postgres_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        copied = await script.copy(sqlite.resolved_database_url, target)
        assert copied["accounts"] == 1 and copied["models"] == 1 and copied["renders"] == 1
        assert copied["ledger"] >= 2  # the grant and the render's charge

        moved = Settings(data_dir=tmp_path / "data", database_url=target, run_renders_in_process=False)
        async with running(moved) as service:
            headers = {"Authorization": f"Bearer {token}"}
            assert (await service.client.get("/v1/account", headers=headers)).json()["data"] == before
            assert (await service.client.get(f"/v1/renders/{render['id']}", headers=headers)).json()["data"] == render
            models = (await service.client.get("/v1/models", headers=headers)).json()["data"]
            assert [m["id"] for m in models] == [upload["modelId"]]
            # A new charge is a new ledger row: its integer id comes from a sequence moved past the copy.
            again = await service.client.post("/v1/renders", headers=headers, json={"modelId": upload["modelId"]})
            assert again.status_code == 201, again.text
            assert (await service.client.get("/v1/account", headers=headers)).json()["data"]["credits"] == before[
                "credits"
            ] - 1

        with pytest.raises(script.CopyRefused, match="has rows already"):
            await script.copy(sqlite.resolved_database_url, target)
    finally:
        await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_only_sqlite_to_postgres(tmp_path):
    script = _script()
    with pytest.raises(script.CopyRefused, match="--from must be"):
        await script.copy("postgresql+asyncpg://x/y", "sqlite+aiosqlite:///z")
