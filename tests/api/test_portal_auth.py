"""Portal sign-in over real HTTP (the app's ASGI client), on SQLite and PostgreSQL: password sign-in
and its cookie, the rate limit, one-time links, idle and absolute expiry, sign-out, the Origin rule
on /auth POSTs, and the asset GETs that accept the cookie (tenancy included, view.glb)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from dxgl.app import create_app
from dxgl.config import Settings
from dxgl.contract import render_key
from dxgl.services import accounts, sessions
from dxgl.tables import Account as AccountRow
from dxgl.tables import Model3D, PortalSession, Render, SigninFailure, SigninLink
from dxgl.timeutil import utcnow
from tests.api.helpers import assert_error
from tests.assets import MODELS_DIR
from tests.conftest import Account, Service, _WithState

PUBLIC = "http://testserver"  # the test client's base URL, and DXGL_PUBLIC_URL in these tests
PASSWORD = "correct horse battery"
DRACO_DUCK = MODELS_DIR / "compressed" / "Duck-draco.glb"


# --- helpers (tests/api/test_csrf.py and tests/graphql/test_session_auth.py use them too) ----------


@dataclass
class Signed:
    """A signed-in portal session: the raw cookie value and its CSRF token."""

    cookie: str
    csrf: str
    account_id: str
    email: str

    @property
    def cookie_header(self) -> dict[str, str]:
        return {"Cookie": f"{sessions.COOKIE_NAME}={self.cookie}"}

    def headers(self, *, origin: str | None = PUBLIC, csrf: str | None = "session") -> dict[str, str]:
        """The cookie, plus ``Origin`` and ``X-DXGL-CSRF`` (``"session"``: the right token) unless None."""
        headers = dict(self.cookie_header)
        if origin is not None:
            headers["Origin"] = origin
        if csrf is not None:
            headers[sessions.CSRF_HEADER] = self.csrf if csrf == "session" else csrf
        return headers


def portal_settings(tmp_path: Path, database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "database_url": database_url,
        "redis_url": "",
        "run_renders_in_process": False,
        "public_url": PUBLIC,
    }
    return Settings(**{**values, **overrides})


async def with_password(service: Service, password: str = PASSWORD, **kwargs: Any) -> Account:
    acct = await service.account(**kwargs)
    async with service.runtime.unit_of_work() as session:
        row = await session.get_one(AccountRow, acct.id)
        await accounts.set_password(session, account=row, password=password)
    return acct


def set_cookie_header(response: httpx.Response, name: str = sessions.COOKIE_NAME) -> str:
    found = [h for h in response.headers.get_list("set-cookie") if h.startswith(name + "=")]
    assert len(found) == 1, response.headers
    return found[0]


def session_cookie(response: httpx.Response) -> str:
    """The dxgl_session value a response sets."""
    return set_cookie_header(response).split(";", 1)[0].split("=", 1)[1]


def cookie_attributes(response: httpx.Response) -> dict[str, str]:
    attributes = {}
    for part in set_cookie_header(response).split(";")[1:]:
        name, _, value = part.strip().partition("=")
        attributes[name.lower()] = value
    return attributes


async def sign_in(service: Service, email: str, password: str = PASSWORD) -> Signed:
    response = await service.client.post(
        "/auth/signin", json={"email": email, "password": password}, headers={"Origin": PUBLIC}
    )
    assert response.status_code == 200, response.text
    service.client.cookies.clear()  # every request sends the cookie its test means to, explicitly
    data = response.json()["data"]
    return Signed(session_cookie(response), data["csrfToken"], data["accountId"], data["email"])


async def signed_in(service: Service, **kwargs: Any) -> tuple[Account, Signed]:
    acct = await with_password(service, **kwargs)
    return acct, await sign_in(service, acct.email)


def sha256(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


async def model_count(service: Service, account_id: str) -> int:
    async with service.runtime.unit_of_work() as session:
        return (
            await session.execute(select(func.count()).select_from(Model3D).where(Model3D.account_id == account_id))
        ).scalar_one()


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[Service]:
    """The app on ``settings``, as tests/conftest.py's ``service`` fixture."""
    app = create_app(settings)
    async with app.router.lifespan_context(app) as state:
        transport = httpx.ASGITransport(app=_WithState(app, state), raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url=PUBLIC) as client:
            yield Service(app, state["runtime"], client)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return portal_settings(tmp_path, database_url)


# --- password sign-in -----------------------------------------------------------------------------


async def test_password_signin_sets_an_httponly_lax_cookie_and_stores_only_hashes(service):
    acct = await with_password(service)
    response = await service.client.post(
        "/auth/signin", json={"email": acct.email.upper(), "password": PASSWORD}, headers={"Origin": PUBLIC}
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["email"] == acct.email and data["accountId"] == acct.id
    assert isinstance(data["csrfToken"], str) and len(data["csrfToken"]) >= 32
    attributes = cookie_attributes(response)
    assert "httponly" in attributes and attributes["samesite"].lower() == "lax" and attributes["path"] == "/"
    assert "secure" not in attributes  # http public URL
    assert int(attributes["max-age"]) == 7 * 24 * 3600
    assert response.headers["cache-control"] == "no-store"
    raw = session_cookie(response)
    service.client.cookies.clear()

    async with service.runtime.unit_of_work() as session:
        row = (await session.execute(select(PortalSession).where(PortalSession.account_id == acct.id))).scalar_one()
        account = await session.get_one(AccountRow, acct.id)
    assert row.token_hash == sha256(raw) and raw not in (row.token_hash, row.csrf_token, row.id)
    assert account.password_hash is not None and account.password_hash.startswith("$argon2id$")
    assert PASSWORD not in account.password_hash

    me = await service.client.get("/auth/session", headers={"Cookie": f"dxgl_session={raw}"})
    assert me.status_code == 200 and me.json()["data"] == data
    assert_error(await service.client.get("/auth/session"), 401, "unauthorized")
    assert_error(
        await service.client.get("/auth/session", headers={"Cookie": "dxgl_session=nope"}), 401, "unauthorized"
    )


async def test_wrong_password_and_unknown_email_are_one_and_the_same_401(service):
    acct = await with_password(service)
    wrong = await service.client.post("/auth/signin", json={"email": acct.email, "password": "not the password"})
    unknown = await service.client.post("/auth/signin", json={"email": "nobody@example.com", "password": PASSWORD})
    no_password = await service.account()
    none_set = await service.client.post("/auth/signin", json={"email": no_password.email, "password": PASSWORD})
    messages = {assert_error(r, 401, "unauthorized")["message"] for r in (wrong, unknown, none_set)}
    assert len(messages) == 1
    assert "set-cookie" not in wrong.headers
    assert_error(await service.client.post("/auth/signin", json={"email": acct.email}), 400, "invalid_request")
    assert_error(
        await service.client.post("/auth/signin", content=b"{]", headers={"Content-Type": "application/json"}),
        400,
        "invalid_json",
    )


async def test_the_sixth_failure_within_15_minutes_is_rate_limited_with_retry_after(service):
    acct = await with_password(service)
    for _ in range(5):
        r = await service.client.post("/auth/signin", json={"email": acct.email, "password": "wrong password!"})
        assert_error(r, 401, "unauthorized")
    # Refused before the password is even looked at: the right one too.
    for password in ("wrong password!", PASSWORD):
        limited = await service.client.post("/auth/signin", json={"email": acct.email, "password": password})
        assert_error(limited, 429, "rate_limited")
        assert 1 <= int(limited.headers["retry-after"]) <= 15 * 60
    # Counted per email: another account is not slowed down.
    other = await with_password(service)
    assert (
        await service.client.post("/auth/signin", json={"email": other.email, "password": PASSWORD})
    ).status_code == 200
    # The failures are rows in the database (the limit holds across API processes); once the window
    # has passed, sign-in works again and a success clears the count.
    async with service.runtime.unit_of_work() as session:
        await session.execute(
            update(SigninFailure)
            .where(SigninFailure.email == acct.email)
            .values(created_at=utcnow() - timedelta(minutes=16))
        )
    assert (
        await service.client.post("/auth/signin", json={"email": acct.email, "password": PASSWORD})
    ).status_code == 200
    async with service.runtime.unit_of_work() as session:
        left = (
            await session.execute(
                select(func.count()).select_from(SigninFailure).where(SigninFailure.email == acct.email)
            )
        ).scalar_one()
    assert left == 0


async def test_a_burst_of_concurrent_guesses_gets_no_more_than_the_limit(service):
    """Each attempt is recorded before its password is verified, so 40 guesses sent at once are not
    all checked while the first ones are still verifying (finding of the security review: 53 of 60
    were before). SQLite's write lock and PostgreSQL's advisory lock per email order the first
    transactions, so exactly the limit is checked."""
    acct = await with_password(service)
    codes = await asyncio.gather(
        *[
            service.client.post("/auth/signin", json={"email": acct.email, "password": f"wrong guess {i:04d}"})
            for i in range(40)
        ]
    )
    checked = sum(1 for r in codes if r.status_code == 401)
    assert {r.status_code for r in codes} <= {401, 429}
    assert checked == sessions.MAX_FAILURES, checked


async def test_signin_refuses_other_origins_and_non_json_bodies(service):
    acct = await with_password(service)
    body = {"email": acct.email, "password": PASSWORD}
    r = await service.client.post("/auth/signin", json=body, headers={"Origin": "http://evil.example"})
    assert_error(r, 403, "forbidden")
    assert "set-cookie" not in r.headers
    # exactly the public origin: not another name of the same machine
    assert_error(
        await service.client.post("/auth/signin", json=body, headers={"Origin": "http://localhost"}), 403, "forbidden"
    )
    assert_error(await service.client.post("/auth/signin", json=body, headers={"Origin": "null"}), 403, "forbidden")
    form = await service.client.post("/auth/signin", data=body)
    assert_error(form, 400, "invalid_request")
    plain = await service.client.post(
        "/auth/signin",
        content=b'{"email": "%s", "password": "%s"}' % (acct.email.encode(), PASSWORD.encode()),
        headers={"Content-Type": "text/plain"},
    )
    assert_error(plain, 400, "invalid_request")
    assert_error(await service.client.get("/auth/signin"), 405, "method_not_allowed")


async def test_suspended_account_cannot_sign_in_and_its_session_ends(service):
    acct, signed = await signed_in(service)
    async with service.runtime.unit_of_work() as session:
        await accounts.set_status(session, account=await session.get_one(AccountRow, acct.id), status="suspended")
    assert_error(await service.client.get("/auth/session", headers=signed.cookie_header), 403, "forbidden")
    r = await service.client.post("/auth/signin", json={"email": acct.email, "password": PASSWORD})
    assert_error(r, 403, "forbidden")


async def test_a_new_password_needs_10_characters_and_signs_out_every_session(service):
    acct, signed = await signed_in(service)
    async with service.runtime.unit_of_work() as session:
        row = await session.get_one(AccountRow, acct.id)
        with pytest.raises(Exception, match="at least 10"):
            await accounts.set_password(session, account=row, password="short")
    async with service.runtime.unit_of_work() as session:
        await accounts.set_password(
            session, account=await session.get_one(AccountRow, acct.id), password="another password"
        )
    assert_error(await service.client.get("/auth/session", headers=signed.cookie_header), 401, "unauthorized")
    assert_error(
        await service.client.post("/auth/signin", json={"email": acct.email, "password": PASSWORD}), 401, "unauthorized"
    )
    await sign_in(service, acct.email, "another password")


async def test_the_cookie_is_secure_when_the_public_url_is_https(tmp_path, database_url):
    async with serving(portal_settings(tmp_path, database_url, public_url="https://dxgl.example/")) as service:
        acct = await with_password(service)
        body = {"email": acct.email, "password": PASSWORD}
        r = await service.client.post("/auth/signin", json=body, headers={"Origin": "https://dxgl.example"})
        assert r.status_code == 200, r.text
        # __Host-: Secure, Path=/, no Domain, so a sibling subdomain cannot plant a session
        header = set_cookie_header(r, sessions.SECURE_COOKIE_NAME)
        assert "secure" in header.lower() and "path=/" in header.lower() and "domain" not in header.lower()
        raw = header.split(";", 1)[0].split("=", 1)[1]
        tossed = {"Origin": "https://dxgl.example", "Cookie": f"{sessions.COOKIE_NAME}={raw}"}
        assert_error(await service.client.get("/auth/session", headers=tossed), 401, "unauthorized")
        kept = {"Cookie": f"{sessions.SECURE_COOKIE_NAME}={raw}"}
        assert (await service.client.get("/auth/session", headers=kept)).status_code == 200
        # the address the request came to does not count: only the public origin
        assert_error(await service.client.post("/auth/signin", json=body, headers={"Origin": PUBLIC}), 403, "forbidden")


async def test_forwarded_headers_count_only_with_trust_proxy(tmp_path, database_url):
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "portal.example", "Origin": "https://portal.example"}
    for trust in (False, True):
        async with serving(portal_settings(tmp_path, database_url, trust_proxy=trust)) as service:
            acct = await with_password(service)
            r = await service.client.post(
                "/auth/signin", json={"email": acct.email, "password": PASSWORD}, headers=forwarded
            )
            if trust:
                assert r.status_code == 200, r.text
                assert "secure" in set_cookie_header(r, sessions.SECURE_COOKIE_NAME).lower()
            else:
                assert_error(r, 403, "forbidden")


# --- one-time links -------------------------------------------------------------------------------


async def _link(service: Service, account_id: str) -> str:
    async with service.runtime.unit_of_work() as session:
        return await sessions.create_signin_link(session, account=await session.get_one(AccountRow, account_id))


async def use_link(service: Service, raw: str, origin: str = PUBLIC) -> httpx.Response:
    """What the link page's button sends: a same-origin form POST of the token."""
    return await service.client.post("/auth/link", data={"token": raw}, headers={"Origin": origin})


async def test_a_signin_link_works_once_and_only_its_hash_is_stored(service):
    acct = await service.account()  # no password needed
    raw = await _link(service, acct.id)
    # Opening the link uses nothing: a page naming the account, whose button posts the token.
    page = await service.client.get(f"/auth/link?token={raw}")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert acct.email in page.text and 'method="post"' in page.text and "set-cookie" not in page.headers
    assert "default-src 'none'" in page.headers["content-security-policy"] and "<script" not in page.text
    assert (await service.client.get(f"/auth/link?token={raw}")).status_code == 200  # a preview used nothing
    first = await use_link(service, raw)
    assert first.status_code == 303 and first.headers["location"] == "/"
    assert "httponly" in cookie_attributes(first)
    cookie = session_cookie(first)
    service.client.cookies.clear()
    me = await service.client.get("/auth/session", headers={"Cookie": f"dxgl_session={cookie}"})
    assert me.status_code == 200 and me.json()["data"]["accountId"] == acct.id

    again = await use_link(service, raw)
    assert again.status_code == 303 and again.headers["location"] == "/?signin=invalid"
    assert "set-cookie" not in again.headers
    assert (await service.client.get(f"/auth/link?token={raw}")).headers["location"] == "/?signin=invalid"
    for bad in ("", "?token=", "?token=made-up", "?token=" + "x" * 500):
        r = await service.client.get(f"/auth/link{bad}")
        assert r.status_code == 303 and r.headers["location"] == "/?signin=invalid"

    async with service.runtime.unit_of_work() as session:
        link = (await session.execute(select(SigninLink).where(SigninLink.account_id == acct.id))).scalar_one()
    assert link.token_hash == sha256(raw) and link.used_at is not None
    assert timedelta(minutes=14) < link.expires_at - link.created_at <= timedelta(minutes=15)


async def test_another_site_cannot_sign_a_browser_in_with_a_link(service):
    """Login CSRF (finding of the security review): a page elsewhere posting someone's link token
    is refused, and the link stays usable by its owner."""
    acct = await service.account()
    raw = await _link(service, acct.id)
    assert_error(await use_link(service, raw, origin="http://evil.example"), 403, "forbidden")
    service.client.cookies.clear()
    async with service.runtime.unit_of_work() as session:
        link = (await session.execute(select(SigninLink).where(SigninLink.account_id == acct.id))).scalar_one()
    assert link.used_at is None
    assert (await use_link(service, raw)).headers["location"] == "/"


async def test_an_expired_link_fails(service):
    acct = await service.account()
    raw = await _link(service, acct.id)
    async with service.runtime.unit_of_work() as session:
        await session.execute(
            update(SigninLink)
            .where(SigninLink.account_id == acct.id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    r = await service.client.get(f"/auth/link?token={raw}")
    assert r.status_code == 303 and r.headers["location"] == "/?signin=invalid"
    r = await use_link(service, raw)
    assert r.status_code == 303 and r.headers["location"] == "/?signin=invalid"
    assert "set-cookie" not in r.headers


# --- expiry and sign-out --------------------------------------------------------------------------


async def test_a_session_expires_when_idle_and_after_seven_days(service):
    _, signed = await signed_in(service)
    idle = service.runtime.settings.session_idle_seconds
    assert idle == 12 * 3600  # the default
    ok = await service.client.get("/auth/session", headers=signed.cookie_header)
    assert ok.status_code == 200

    async def move(**values: Any) -> None:
        async with service.runtime.unit_of_work() as session:
            await session.execute(
                update(PortalSession).where(PortalSession.token_hash == sha256(signed.cookie)).values(**values)
            )

    # in use two minutes ago: still good, and the use is recorded (at most once a minute)
    await move(last_seen_at=utcnow() - timedelta(minutes=2))
    assert (await service.client.get("/auth/session", headers=signed.cookie_header)).status_code == 200
    async with service.runtime.unit_of_work() as session:
        row = (
            await session.execute(select(PortalSession).where(PortalSession.token_hash == sha256(signed.cookie)))
        ).scalar_one()
    assert utcnow() - row.last_seen_at < timedelta(seconds=30)

    await move(last_seen_at=utcnow() - timedelta(seconds=idle + 1))
    assert_error(await service.client.get("/auth/session", headers=signed.cookie_header), 401, "unauthorized")

    _, fresh = await signed_in(service)
    await move(last_seen_at=utcnow())
    async with service.runtime.unit_of_work() as session:
        await session.execute(
            update(PortalSession)
            .where(PortalSession.token_hash == sha256(fresh.cookie))
            .values(created_at=utcnow() - timedelta(days=7, seconds=1), last_seen_at=utcnow())
        )
    assert_error(await service.client.get("/auth/session", headers=fresh.cookie_header), 401, "unauthorized")


async def test_the_idle_limit_is_a_setting(tmp_path, database_url):
    import asyncio

    async with serving(portal_settings(tmp_path, database_url, session_idle_seconds=0.5)) as service:
        _, signed = await signed_in(service)
        assert (await service.client.get("/auth/session", headers=signed.cookie_header)).status_code == 200
        await asyncio.sleep(0.7)
        assert_error(await service.client.get("/auth/session", headers=signed.cookie_header), 401, "unauthorized")


async def test_signout_needs_the_csrf_header_then_revokes_and_clears_the_cookie(service):
    _, signed = await signed_in(service)
    assert_error(await service.client.post("/auth/signout", headers=signed.headers(csrf=None)), 401, "unauthorized")
    assert_error(await service.client.post("/auth/signout", headers=signed.headers(csrf="wrong")), 401, "unauthorized")
    assert_error(
        await service.client.post("/auth/signout", headers=signed.headers(origin="http://evil.example")),
        403,
        "forbidden",
    )
    assert (await service.client.get("/auth/session", headers=signed.cookie_header)).status_code == 200

    out = await service.client.post("/auth/signout", headers=signed.headers())
    assert out.status_code == 204, out.text
    cleared = cookie_attributes(out)
    assert session_cookie(out) in ("", '""') and cleared["max-age"] == "0"
    service.client.cookies.clear()
    assert_error(await service.client.get("/auth/session", headers=signed.cookie_header), 401, "unauthorized")
    async with service.runtime.unit_of_work() as session:
        row = (
            await session.execute(select(PortalSession).where(PortalSession.token_hash == sha256(signed.cookie)))
        ).scalar_one()
    assert row.revoked_at is not None
    # signing out again (or without a session) is harmless
    assert (await service.client.post("/auth/signout", headers=signed.headers())).status_code == 204


# --- asset GETs with the cookie -------------------------------------------------------------------


async def _render_with_poster(service: Service, acct: Account, duck: Path) -> str:
    r = await acct.upload(duck)
    assert r.status_code == 201, r.text
    render_id = r.json()["data"]["renderId"]
    storage = service.runtime.storage
    storage.path(render_key(render_id, "poster_small.png")).parent.mkdir(parents=True, exist_ok=True)
    storage.path(render_key(render_id, "poster_small.png")).write_bytes(b"\x89PNG\r\n\x1a\nposter")
    async with service.runtime.unit_of_work() as session:
        await session.execute(
            update(Render).where(Render.id == render_id).values(status="poster-done", assets=["poster_small.png"])
        )
    return render_id


async def test_asset_gets_take_the_cookie_with_the_same_tenancy(service, duck):
    acct, signed = await signed_in(service)
    render_id = await _render_with_poster(service, acct, duck)
    other = await service.account()
    theirs = await _render_with_poster(service, other, duck)

    poster = await service.client.get(f"/v1/renders/{render_id}/poster", headers=signed.cookie_header)
    assert poster.status_code == 200 and poster.content.endswith(b"poster")
    assert_error(
        await service.client.get(f"/v1/renders/{theirs}/poster", headers=signed.cookie_header), 404, "render_not_found"
    )
    assert_error(
        await service.client.get(f"/v1/renders/{render_id}/video", headers=signed.cookie_header), 404, "video_not_found"
    )
    assert_error(await service.client.get(f"/v1/renders/{render_id}/poster"), 401, "unauthorized")
    # another site's page cannot use it either (the Origin rule), nor a dead session
    evil = {**signed.cookie_header, "Origin": "http://evil.example"}
    assert_error(await service.client.get(f"/v1/renders/{render_id}/poster", headers=evil), 401, "unauthorized")
    assert_error(
        await service.client.get(f"/v1/renders/{render_id}/poster", headers={"Cookie": "dxgl_session=forged"}),
        401,
        "unauthorized",
    )

    model_id = (await acct.request("GET", f"/v1/renders/{render_id}")).json()["data"]["modelId"]
    file = await service.client.get(f"/v1/models/{model_id}/file", headers=signed.cookie_header)
    assert file.status_code == 200 and file.content == duck.read_bytes()
    assert "attachment" in file.headers["content-disposition"]
    ranged = await service.client.get(
        f"/v1/models/{model_id}/file", headers={**signed.cookie_header, "Range": "bytes=0-3"}
    )
    assert ranged.status_code == 206 and ranged.content == b"glTF"
    their_model = (await other.request("GET", f"/v1/renders/{theirs}")).json()["data"]["modelId"]
    assert_error(
        await service.client.get(f"/v1/models/{their_model}/file", headers=signed.cookie_header), 404, "model_not_found"
    )

    # Everything else under /v1 is Bearer only.
    for path in ("/v1/models", f"/v1/models/{model_id}", "/v1/renders", "/v1/account"):
        assert_error(await service.client.get(path, headers=signed.cookie_header), 401, "unauthorized")
    # A Bearer token wins over a cookie beside it.
    mine = await acct.request("GET", f"/v1/renders/{render_id}/poster", headers={"Cookie": "dxgl_session=forged"})
    assert mine.status_code == 200


async def test_view_glb_serves_the_decoded_copy_renders_load(service, duck):
    acct, signed = await signed_in(service)
    draco = DRACO_DUCK.read_bytes()
    compressed_id = (await acct.upload(draco, name="duck-draco.glb")).json()["data"]["modelId"]
    plain_id = (await acct.upload(duck)).json()["data"]["modelId"]
    async with service.runtime.unit_of_work() as session:
        row = await session.get_one(Model3D, compressed_id)
    assert row.decoded_key
    decoded = service.runtime.storage.path(row.decoded_key).read_bytes()

    view = await service.client.get(f"/v1/models/{compressed_id}/view.glb", headers=signed.cookie_header)
    assert view.status_code == 200, view.text
    assert view.headers["content-type"] == "model/gltf-binary"
    assert view.content == decoded != draco and b"KHR_draco_mesh_compression" not in view.content[:20000]
    with_token = await acct.request("GET", f"/v1/models/{compressed_id}/view.glb")
    assert with_token.status_code == 200 and with_token.content == decoded
    # a plain GLB is its own view copy
    assert (
        await service.client.get(f"/v1/models/{plain_id}/view.glb", headers=signed.cookie_header)
    ).content == duck.read_bytes()
    other = await service.account()
    assert_error(await other.request("GET", f"/v1/models/{compressed_id}/view.glb"), 404, "model_not_found")
    assert_error(await service.client.get(f"/v1/models/{compressed_id}/view.glb"), 401, "unauthorized")
    reader = await service.account(scopes="renders:read")
    assert_error(await reader.request("GET", f"/v1/models/{compressed_id}/view.glb"), 403, "insufficient_scope")
