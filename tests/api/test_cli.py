"""The CLI forms that scripts rely on, run as real subprocesses on both databases."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from dxgl.services import sessions
from tests.live_server import ServeProcess, clean_env

DXGL = [sys.executable, "-m", "dxgl.cli"]

pytestmark = pytest.mark.slow  # every test runs the CLI in subprocesses


def _env(tmp_path: Path, database_url: str) -> dict[str, str]:
    return clean_env(DXGL_DATA_DIR=str(tmp_path / "data"), DXGL_DATABASE_URL=database_url)


def _cli(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([*DXGL, *args], env=env, capture_output=True, text=True, timeout=120)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_account_token_lifecycle(tmp_path, database_url, service_app_factory):
    env = _env(tmp_path, database_url)
    email = f"cli-{time.time_ns()}@example.com"
    out = _cli(env, "accounts", "create", "--email", email, "--credits", "5", "--free-credits", "1").stdout
    assert email in out
    token = (
        _cli(env, "tokens", "create", "--email", email, "--scopes", "account:read,models:read")
        .stdout.strip()
        .splitlines()[-1]
    )
    assert token.startswith("dxgl_sk_")
    expiring = _cli(env, "tokens", "create", "--email", email, "--expires-in", "3600").stdout.strip().splitlines()[-1]
    _cli(env, "credits", "grant", "--email", email, "10")

    with service_app_factory(env) as get:
        r = get("/v1/account", token)
        assert r.status_code == 200 and r.json()["data"]["credits"] == 16
        assert r.json()["data"]["freeCredits"] == 1
        assert get("/v1/account", expiring).status_code == 200
        assert get("/v1/renders", token).json()["error"]["code"] == "insufficient_scope"
        _cli(env, "tokens", "revoke", token[:16])
        assert get("/v1/account", token).json()["error"]["code"] == "unauthorized"
        assert get("/v1/account", expiring).status_code == 200
        _cli(env, "accounts", "suspend", "--email", email)
        assert get("/v1/account", expiring).json()["error"]["code"] == "forbidden"
    bad = _cli(env, "tokens", "create", "--email", email, "--scopes", "root", check=False)
    assert bad.returncode == 2 and "unknown scope" in bad.stderr


def test_serve_on_embedded_default_prints_a_token_once(tmp_path):
    import httpx

    env = clean_env(DXGL_DATA_DIR=str(tmp_path / "data"))
    for attempt in range(2):
        server = ServeProcess(env, host=None)  # ``dxgl serve --port N``, the default host
        server.start(expect_token=False)  # up once /v1/health answers 200
        links = [line for line in server.lines if "/auth/link?token=" in line]
        if attempt == 0:
            # ... and a one-time portal sign-in link on the public URL (default http://host:port)
            assert len(links) == 1, server.output
            assert links[0].startswith(f"http://127.0.0.1:{server.port}/auth/link?token="), links
            page = httpx.get(links[0], follow_redirects=False, timeout=30)
            assert page.status_code == 200 and "local@dxgl.local" in page.text  # opening it uses nothing
            token = {"token": links[0].split("token=", 1)[1]}
            origin = {"Origin": f"http://127.0.0.1:{server.port}"}
            first = httpx.post(f"{server.url}/auth/link", data=token, headers=origin, timeout=30)
            assert first.status_code == 303 and first.headers["location"] == "/", first.text
            assert "dxgl_session=" in first.headers["set-cookie"]
            again = httpx.post(f"{server.url}/auth/link", data=token, headers=origin, timeout=30)
            assert again.headers["location"] == "/?signin=invalid"
        out = "\n".join(server.stop())
        tokens = [line for line in out.splitlines() if line.startswith("dxgl_sk_")]
        if attempt == 0:
            assert len(tokens) == 1, out
            token = tokens[0]
        else:
            assert tokens == [], "the token is printed only on the first start"
            assert links == [], "so is the link"
    assert (tmp_path / "data" / "dxgl.sqlite3").is_file()
    assert token


def _cli_input(env: dict[str, str], stdin: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*DXGL, *args], env=env, input=stdin, capture_output=True, text=True, timeout=120)


def test_portal_passwords_and_signin_links(tmp_path, database_url):
    from starlette.testclient import TestClient

    from dxgl.app import create_app
    from dxgl.config import Settings

    env = {**_env(tmp_path, database_url), "DXGL_PUBLIC_URL": "https://portal.example/"}
    email = f"portal-{time.time_ns()}@example.com"
    short = _cli_input(env, "too short\n", "accounts", "create", "--email", email, "--password-stdin")
    assert short.returncode == 2 and "at least 10 characters" in short.stderr
    created = _cli_input(env, "first password\n", "accounts", "create", "--email", email, "--password-stdin")
    assert created.returncode == 0, created.stderr
    assert "first password" not in created.stdout

    link = _cli(env, "accounts", "signin-link", "--email", email).stdout.strip().splitlines()[-1]
    assert link.startswith("https://portal.example/auth/link?token="), link
    token = link.split("token=", 1)[1]
    missing = _cli(env, "accounts", "signin-link", "--email", "nobody@example.com", check=False)
    assert missing.returncode == 2

    settings = Settings(
        data_dir=Path(env["DXGL_DATA_DIR"]), database_url=database_url, public_url="https://portal.example"
    )
    origin = {"Origin": "https://portal.example"}
    with TestClient(create_app(settings), base_url="https://portal.example", follow_redirects=False) as client:
        r = client.post("/auth/signin", json={"email": email, "password": "first password"}, headers=origin)
        assert r.status_code == 200, r.text
        assert "Secure" in r.headers["set-cookie"] and "HttpOnly" in r.headers["set-cookie"]
        client.cookies.clear()
        assert client.get(f"/auth/link?token={token}").status_code == 200  # the page: nothing used yet
        used = client.post("/auth/link", data={"token": token}, headers=origin)
        assert used.status_code == 303 and used.headers["location"] == "/"
        cookie = used.cookies[sessions.SECURE_COOKIE_NAME]  # https: the __Host- name
        client.cookies.clear()
        session_cookie = {"Cookie": f"{sessions.SECURE_COOKIE_NAME}={cookie}"}
        assert client.get("/auth/session", headers=session_cookie).status_code == 200
        client.cookies.clear()
        assert client.get(f"/auth/link?token={token}").headers["location"] == "/?signin=invalid"

        changed = _cli_input(env, "second password\n", "accounts", "set-password", "--email", email, "--password-stdin")
        assert changed.returncode == 0, changed.stderr
        signed_out = client.get("/auth/session", headers={"Cookie": f"dxgl_session={cookie}"})
        assert signed_out.status_code == 401  # a new password ends every session
        client.cookies.clear()
        old = client.post("/auth/signin", json={"email": email, "password": "first password"}, headers=origin)
        assert old.status_code == 401
        new = client.post("/auth/signin", json={"email": email, "password": "second password"}, headers=origin)
        assert new.status_code == 200, new.text
    no_flag = _cli_input(env, "second password\n", "accounts", "set-password", "--email", email)
    assert no_flag.returncode != 0  # the password comes from stdin only, and the flag says so


def test_overlays_publish(tmp_path, database_url, service_app_factory):
    from tests.api.test_overlays import image_bytes

    env = _env(tmp_path, database_url)
    email = f"ovl-{time.time_ns()}@example.com"
    _cli(env, "accounts", "create", "--email", email)
    token = _cli(env, "tokens", "create", "--email", email).stdout.strip().splitlines()[-1]
    image = tmp_path / "studio.png"
    image.write_bytes(image_bytes())
    out = _cli(env, "overlays", "publish", str(image), "--name", "Studio", "--alignment", "center").stdout
    overlay_id = out.split()[-1]
    with service_app_factory(env) as get:
        listed = get("/v1/overlays", token).json()["data"]
    # other tests may have published system overlays in the shared PostgreSQL database
    assert [(o["name"], o["alignment"], o["system"]) for o in listed if o["id"] == overlay_id] == [
        ("Studio", "center", True)
    ]
    bad = _cli(env, "overlays", "publish", str(tmp_path / "missing.png"), check=False)
    assert bad.returncode != 0


def test_migrate_is_idempotent(tmp_path):
    env = clean_env(DXGL_DATA_DIR=str(tmp_path / "data"))
    for _ in range(2):
        assert "latest migration" in _cli(env, "migrate").stdout
    import sqlite3

    tables = {
        r[0] for r in sqlite3.connect(tmp_path / "data" / "dxgl.sqlite3").execute("select name from sqlite_master")
    }
    assert {
        "accounts",
        "api_tokens",
        "models",
        "model_tags",
        "renders",
        "ledger",
        "overlays",
        "alembic_version",
    } <= tables
