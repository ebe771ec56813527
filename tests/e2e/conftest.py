"""The production shape end to end: real PostgreSQL (a fresh database), Redis (a database number
of its own, flushed only by this test), SeaweedFS, the API process and ``dxgl worker`` processes,
each with its own empty data and cache folder (no shared disk)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator

import pytest

from tests.conftest import PG_ADMIN_URL, _pg_admin, service_missing
from tests.storage.seaweed import SeaweedServer, seaweed

E2E_REDIS = os.environ.get("DXGL_TEST_E2E_REDIS", "redis://127.0.0.1:6379/12")


@pytest.fixture
def e2e_postgres() -> Iterator[str]:
    name = f"dxgl_e2e_{uuid.uuid4().hex[:10]}"
    try:
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        service_missing("PostgreSQL", exc)
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    yield f"{base}/{name}"
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def e2e_redis() -> Iterator[str]:
    import redis

    try:
        client = redis.from_url(E2E_REDIS)
        client.flushdb()  # this database number is the e2e test's own
    except Exception as exc:
        service_missing("Redis", exc)
    yield E2E_REDIS
    client.flushdb()
    client.close()


@pytest.fixture(scope="session")
def e2e_s3() -> SeaweedServer:
    try:
        return seaweed()
    except Exception as exc:
        service_missing("SeaweedFS (the S3 server)", exc)
        raise
