"""URL fetch: refused destinations never get a connection; redirects, size and time are bounded."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from dxgl.errors import DxglError
from dxgl.ingest import fetch_url

from .counting_server import CountingServer
from .ssrf_spellings import SSRF_URLS


@pytest.fixture
def server():
    with CountingServer() as srv:
        yield srv


async def fetch_local(server: CountingServer, path: str, dest: Path, *, timeout_s: float = 5):
    """``fetch_url`` of ``path`` on the local counting server (private addresses allowed), 1 MiB limit."""
    url = f"http://127.0.0.1:{server.port}{path}"
    return await fetch_url(url, dest, limit_bytes=1 << 20, timeout_s=timeout_s, allow_private=True)


async def refused(server: CountingServer, path: str, dest: Path, *, timeout_s: float = 5) -> DxglError:
    """The error ``fetch_local`` raises."""
    with pytest.raises(DxglError) as caught:
        await fetch_local(server, path, dest, timeout_s=timeout_s)
    return caught.value


@pytest.mark.parametrize("template", SSRF_URLS)
async def test_refused_destination_never_connects(server: CountingServer, tmp_path: Path, template: str):
    url = template.format(port=server.port)
    with pytest.raises(DxglError) as caught:
        await fetch_url(url, tmp_path, limit_bytes=1 << 20, timeout_s=5)
    error = caught.value
    assert error.code == "invalid_url"
    assert error.message
    assert server.accepted == 0
    assert list(tmp_path.iterdir()) == []


async def test_the_listener_is_reachable_so_zero_means_refused(server: CountingServer, tmp_path: Path):
    fetched = await fetch_local(server, "/model.glb", tmp_path)
    assert server.accepted == 1
    assert fetched.path.read_bytes() == server.glb
    assert fetched.size == len(server.glb)
    assert fetched.sha256 == hashlib.sha256(server.glb).hexdigest()
    assert fetched.path.parent == tmp_path
    assert fetched.filename == "my chair_rm -rf.glb"


async def test_localhost_name_is_allowed_only_with_allow_private(server: CountingServer, tmp_path: Path):
    fetched = await fetch_url(
        f"http://localhost:{server.port}/model.glb", tmp_path, limit_bytes=1 << 20, timeout_s=5, allow_private=True
    )
    assert fetched.size == len(server.glb)


async def test_five_redirects_are_followed_and_rechecked(server: CountingServer, tmp_path: Path):
    fetched = await fetch_local(server, "/hop/4", tmp_path)
    assert fetched.final_url == f"http://127.0.0.1:{server.port}/model.glb"
    assert server.paths == ["/hop/4", "/hop/3", "/hop/2", "/hop/1", "/hop/0", "/model.glb"]


async def test_a_sixth_redirect_is_refused(server: CountingServer, tmp_path: Path):
    error = await refused(server, "/hop/5", tmp_path)
    assert error.code == "invalid_url"
    assert "redirects" in error.message
    assert "/model.glb" not in server.paths


@pytest.mark.parametrize(
    "location",
    [
        "http://2130706433:PORT/model.glb",
        "http://0x7f.1:PORT/model.glb",
        "http://169.254.169.254/latest/meta-data/",
        "file:///etc/passwd",
        "ftp://127.0.0.1:PORT/model.glb",
        "http://[::ffff:127.0.0.1]:PORT/model.glb",
    ],
)
async def test_redirect_targets_are_checked_again(server: CountingServer, tmp_path: Path, location: str):
    error = await refused(server, f"/redirect-to?{location}", tmp_path)
    assert error.code == "invalid_url"
    assert server.accepted == 1  # the first hop only
    assert list(tmp_path.iterdir()) == []


async def test_size_is_counted_while_streaming_without_content_length(server: CountingServer, tmp_path: Path):
    error = await refused(server, "/big-no-length", tmp_path, timeout_s=10)
    assert error.code == "file_too_large"
    assert list(tmp_path.iterdir()) == []  # the partial file is removed


async def test_declared_size_over_limit_is_refused(server: CountingServer, tmp_path: Path):
    error = await refused(server, "/big-declared", tmp_path)
    assert error.code == "file_too_large"


@pytest.mark.slow  # waits out a deadline
async def test_total_timeout(server: CountingServer, tmp_path: Path):
    error = await refused(server, "/slow", tmp_path, timeout_s=1.0)
    assert error.code == "timeout"
    assert list(tmp_path.iterdir()) == []


async def test_zip_by_url_is_invalid_format(server: CountingServer, tmp_path: Path):
    error = await refused(server, "/archive.zip", tmp_path)
    assert error.code == "invalid_format"
    assert list(tmp_path.iterdir()) == []


async def test_http_error_status_is_invalid_url(server: CountingServer, tmp_path: Path):
    error = await refused(server, "/missing", tmp_path)
    assert error.code == "invalid_url"
    assert "404" in error.message
