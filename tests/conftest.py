"""Shared fixtures: the service on SQLite and on PostgreSQL (real servers, never mocks).

Every test that uses ``client`` runs once per database. PostgreSQL gets one fresh database per test
session, migrated once; tests isolate themselves by creating their own accounts. In CI (``CI=true``)
a database or Redis that cannot be reached is a failure, not a skip.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from dxgl.app import create_app
from dxgl.config import Settings
from dxgl.db import migrate
from dxgl.runtime import Runtime
from tests.assets import MODELS_DIR

# Tests keep renders small and off the API process unless a test asks for them (tests/pipeline).
os.environ.setdefault("DXGL_RUN_RENDERS_IN_PROCESS", "false")
os.environ.setdefault("DXGL_RENDER_MAX_SIZE", "160")
os.environ.setdefault("DXGL_RENDER_MAX_LENGTH", "1")
# The free system preview of every upload is off unless a test is about previews (it passes
# system_preview=True): it would add a render per upload to every count and, where renders run, a
# render's time. ``tests.live_server.clean_env`` carries this into subprocesses.
os.environ.setdefault("DXGL_SYSTEM_PREVIEW", "0")
# Every test service has a fresh data folder, whose cache would prepare the built-in studio
# environment again (5-9 s of numpy per render test): one folder for the whole session instead,
# as an operator would name it. Tests about the per-runtime folder unset it (monkeypatch).
os.environ.setdefault(
    "DXGL_ENVIRONMENT_CACHE", str(Path(tempfile.gettempdir()) / f"dxgl-test-environments-{os.getuid()}")
)

ASSETS = MODELS_DIR
PG_ADMIN_URL = os.environ.get("DXGL_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("DXGL_TEST_REDIS", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def service_missing(what: str, why: object) -> None:
    """Skip locally, fail in CI."""
    message = f"{what} is not reachable: {why}"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


async def _pg_admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    name = f"dxgl_test_{uuid.uuid4().hex[:10]}"
    try:
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        service_missing("PostgreSQL", exc)
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    url = f"{base}/{name}"
    migrate(url)
    yield url
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "dxgl.sqlite3"
    migrate(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    if request.param == "postgres":
        return request.getfixturevalue("postgres_url")
    path = tmp_path / "db" / "dxgl.sqlite3"
    path.parent.mkdir()
    shutil.copyfile(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    # The API tests keep renders pending; tests/pipeline runs them.
    return Settings(data_dir=tmp_path / "data", database_url=database_url, redis_url="", run_renders_in_process=False)


class _WithState:
    """Hands the lifespan state to every request, as an ASGI server does (httpx's transport doesn't)."""

    def __init__(self, app: Any, state: dict[str, Any]) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            scope = {**scope, "state": dict(self.state)}
        await self.app(scope, receive, send)


@dataclass
class Service:
    """A running app (lifespan entered), an HTTP client for it, and helpers to make accounts."""

    app: Any
    runtime: Runtime
    client: httpx.AsyncClient

    async def account(
        self, *, credits: int = 100, free: int = 0, scopes: str | None = None, email: str | None = None
    ) -> Account:
        from dxgl.services import accounts, auth

        async with self.runtime.unit_of_work() as session:
            acct = await accounts.create_account(
                session, email=email or f"{uuid.uuid4().hex[:12]}@example.com", paid_credits=credits, free_credits=free
            )
            _, raw = await auth.create_token(session, account=acct, scopes=auth.parse_scopes(scopes))
        return Account(acct.id, acct.email, raw, self)


@dataclass
class Account:
    id: str
    email: str
    token: str
    service: Service

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return await self.service.client.request(method, url, headers=headers, **kwargs)

    async def upload(self, path: Path | bytes, *, name: str = "model.glb", settings: Any = None) -> httpx.Response:
        content = path.read_bytes() if isinstance(path, Path) else path
        data = (
            {"renderSettings": settings if isinstance(settings, str) else __import__("json").dumps(settings)}
            if settings is not None
            else {}
        )
        return await self.request(
            "POST", "/v1/models", files={"file": (name, content, "application/octet-stream")}, data=data
        )


@asynccontextmanager
async def running_service(settings: Settings) -> AsyncIterator[Service]:
    """The app with its lifespan, entered and left in the caller's own task (the lifespan holds
    task groups), for settings a test picks; the ``service`` fixture is this over ``settings``."""
    app = create_app(settings)
    async with app.router.lifespan_context(app) as state:
        transport = httpx.ASGITransport(app=_WithState(app, state), raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=60) as client:
            yield Service(app, state["runtime"], client)


@pytest.fixture
async def service(settings: Settings) -> AsyncIterator[Service]:
    async with running_service(settings) as running:
        yield running


@pytest.fixture
def duck() -> Path:
    return ASSETS / "Duck.glb"


@pytest.fixture
def assets() -> Path:
    return ASSETS


@pytest.fixture
def service_app_factory():
    """Run the app for a CLI test in this process (same database as the CLI), and GET through it."""
    import contextlib

    from starlette.testclient import TestClient

    @contextlib.contextmanager
    def factory(env: dict[str, str]):
        settings = Settings(data_dir=Path(env["DXGL_DATA_DIR"]), database_url=env["DXGL_DATABASE_URL"])
        with TestClient(create_app(settings), raise_server_exceptions=False) as client:
            yield lambda url, token: client.get(url, headers={"Authorization": f"Bearer {token}"})

    return factory
