"""The storage tests run on both backends: the local folder and a real S3 server (SeaweedFS,
``tests/storage/seaweed.py``). In CI a server that does not start is a failure, not a skip."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dxgl.storage import LocalStorage, Storage
from dxgl.storage.s3 import S3Storage
from dxgl.storage.s3_config import S3Config
from tests.conftest import service_missing
from tests.storage.seaweed import SeaweedServer, seaweed


@pytest.fixture(scope="session")
def s3_server() -> SeaweedServer:
    try:
        return seaweed()
    except Exception as exc:
        service_missing("SeaweedFS (the S3 server)", exc)
        raise


@pytest.fixture
def s3_env(s3_server: SeaweedServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """This process's AWS_* variables and a fresh ``DXGL_STORAGE_URL`` prefix for the test."""
    env = s3_server.env()
    for name, value in env.items():
        if name.startswith("AWS_"):
            monkeypatch.setenv(name, value)
    return env


def s3_storage(env: dict[str, str], scratch: Path) -> S3Storage:
    return S3Storage(S3Config.from_url(env["DXGL_STORAGE_URL"], env), scratch)


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    if request.param == "local":
        yield LocalStorage(tmp_path / "files")
        return
    env = request.getfixturevalue("s3_env")
    yield s3_storage(env, tmp_path / "scratch")
