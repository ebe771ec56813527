"""Portal sign-in (docs/portal.md): passwords, one-time sign-in links, browser sessions, the rate
limit on failed password sign-ins, and the Origin / CSRF rule every cookie-authenticated request
passes. The adapters (``dxgl/rest/portal_auth.py``, ``dxgl/schema/context.py``) only read cookies
and headers and hand them here.

- **Passwords**: argon2id (``argon2-cffi``'s defaults, RFC 9106's low-memory profile), at least
  ``MIN_PASSWORD_LENGTH`` characters. Hashing runs in a thread, never on the event loop, and never
  inside a transaction.
- **Sign-in links**: 32 random bytes (URL-safe base64), valid ``LINK_TTL``, once; only the SHA-256
  is stored. Consuming one is a conditional UPDATE, so two processes cannot both use it.
- **Sessions**: the cookie value is 32 random bytes; only its SHA-256 is stored. A session ends
  when revoked (sign-out, a new password), after ``idle_seconds`` without a request
  (``last_seen_at`` is written at most every ``TOUCH_EVERY``), and ``MAX_AGE`` after sign-in
  whatever its use. Its CSRF token is stored plain: it is useless without the cookie, and the portal
  reads it back from ``GET /auth/session`` on every page load.
- **Rate limit**: ``MAX_FAILURES`` failed password sign-ins for one email (known or not) within
  ``FAILURE_WINDOW`` refuse the next ones with 429 ``rate_limited`` until the oldest failure leaves
  the window. Failures are rows in the database, so the limit holds across every API process;
  attempts in flight at the same moment are each counted before any of them is recorded, so a
  burst of concurrent tries can get a few more than ``MAX_FAILURES`` through, never an unbounded
  number.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from urllib.parse import urlsplit

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from dxgl.contract import ErrorCode
from dxgl.errors import DxglError
from dxgl.ids import new_id
from dxgl.services.auth import SCOPES, Caller
from dxgl.tables import Account, PortalSession, SigninFailure, SigninLink
from dxgl.timeutil import utcnow

COOKIE_NAME = "dxgl_session"
# On an https origin the cookie carries the __Host- prefix: the browser then accepts it only
# Secure, for Path=/ and without a Domain, so a sibling subdomain cannot plant its own session.
SECURE_COOKIE_NAME = "__Host-" + COOKIE_NAME


def cookie_name(expected_origin: str) -> str:
    """The session cookie's name for the public origin the request is judged against."""
    return SECURE_COOKIE_NAME if expected_origin.startswith("https://") else COOKIE_NAME


CSRF_HEADER = "X-DXGL-CSRF"
# The websocket's connection_init payload key for the CSRF token (a browser cannot set headers there).
CSRF_PARAM = "csrfToken"
MIN_PASSWORD_LENGTH = 10
# Longer passwords are refused when set and fail when tried: bounds the hashing work per request.
MAX_PASSWORD_LENGTH = 1024
LINK_TTL = timedelta(minutes=15)
MAX_AGE = timedelta(days=7)
TOUCH_EVERY = timedelta(seconds=60)
FAILURE_WINDOW = timedelta(minutes=15)
MAX_FAILURES = 5
# A raw cookie value or link token longer than this is not one of ours (they are 43 characters).
_MAX_RAW_LEN = 128

WRONG_CREDENTIALS = "Wrong email or password"

_hasher = PasswordHasher()  # argon2id


def _sha256(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _random_token() -> str:
    return secrets.token_urlsafe(32)


def _email_key(email: str) -> str:
    """The email as accounts store it (trimmed, lowercased), cut to the column's size."""
    return email.strip().lower()[:320]


# --- passwords ------------------------------------------------------------------------------------


def validate_password(password: object) -> str:
    if not isinstance(password, str):
        raise DxglError(ErrorCode.INVALID_REQUEST, "password must be a string")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise DxglError(ErrorCode.INVALID_REQUEST, f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise DxglError(ErrorCode.INVALID_REQUEST, f"a password may have at most {MAX_PASSWORD_LENGTH} characters")
    return password


async def hash_password(password: str) -> str:
    """The argon2id PHC string of a (validated) password, computed in a thread."""
    return await asyncio.to_thread(_hasher.hash, validate_password(password))


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class Verdict:
    ok: bool
    # A new hash when the stored one was made with weaker parameters than today's (ok only).
    rehash: str | None = None


def _verify(stored: str | None, password: str) -> Verdict:
    # An unknown email or an account without a password costs one verification too, so the answer's
    # timing does not tell which emails have accounts.
    target = stored or _dummy_hash()
    try:
        _hasher.verify(target, password)
    except (VerificationError, InvalidHashError):
        return Verdict(False)
    if stored is None:
        return Verdict(False)
    return Verdict(True, _hasher.hash(password) if _hasher.check_needs_rehash(stored) else None)


async def verify_password(stored: str | None, password: str) -> Verdict:
    """Check ``password`` against a stored hash (``None``: none, always fails), in a thread. Run it
    outside any transaction."""
    if len(password) > MAX_PASSWORD_LENGTH:
        return Verdict(False)
    return await asyncio.to_thread(_verify, stored, password)


async def revoke_account_sessions(session: AsyncSession, *, account_id: str) -> int:
    result = await session.execute(
        update(PortalSession)
        .where(col(PortalSession.account_id) == account_id, col(PortalSession.revoked_at).is_(None))
        .values(revoked_at=utcnow())
    )
    return int(getattr(result, "rowcount", 0) or 0)


# --- sessions -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionInfo:
    """A live portal session: what ``/auth/session`` answers and what the caller is."""

    id: str
    account_id: str
    email: str
    csrf_token: str

    @property
    def caller(self) -> Caller:
        # A signed-in person may do everything their account may: every scope.
        return Caller(account_id=self.account_id, token_id=self.id, scopes=frozenset(SCOPES), portal_session=True)

    def json(self) -> dict[str, str]:
        return {"email": self.email, "accountId": self.account_id, "csrfToken": self.csrf_token}

    def csrf_matches(self, value: object) -> bool:
        return isinstance(value, str) and hmac.compare_digest(value.encode(), self.csrf_token.encode())


async def create_session(session: AsyncSession, *, account: Account) -> tuple[SessionInfo, str]:
    """A new session of ``account``; returns it and the raw cookie value (not stored)."""
    raw = _random_token()
    now = utcnow()
    row = PortalSession(
        id=new_id(),
        account_id=account.id,
        token_hash=_sha256(raw),
        csrf_token=_random_token(),
        created_at=now,
        last_seen_at=now,
    )
    session.add(row)
    await session.flush()
    return SessionInfo(row.id, account.id, account.email, row.csrf_token), raw


def _require_live(
    revoked_at: datetime | None, created_at: datetime, last_seen_at: datetime, status: str, *, idle_seconds: float
) -> None:
    now = utcnow()
    if revoked_at is not None:
        raise DxglError(ErrorCode.UNAUTHORIZED, "This session has ended: sign in again")
    if created_at + MAX_AGE <= now or last_seen_at + timedelta(seconds=idle_seconds) <= now:
        raise DxglError(ErrorCode.UNAUTHORIZED, "This session has expired: sign in again")
    if status != "active":
        raise DxglError(ErrorCode.FORBIDDEN, "This account is suspended")


async def session_from_cookie(
    session: AsyncSession, raw: str | None, *, idle_seconds: float, touch: bool = True
) -> SessionInfo:
    """The live session a ``dxgl_session`` cookie value names, or 401 ``unauthorized`` (403
    ``forbidden`` for a suspended account). Records the use (at most every ``TOUCH_EVERY``)."""
    if not raw or len(raw) > _MAX_RAW_LEN:
        raise DxglError(ErrorCode.UNAUTHORIZED, "Not signed in")
    found = (
        await session.execute(
            select(PortalSession, Account)
            .join(Account, col(Account.id) == col(PortalSession.account_id))
            .where(col(PortalSession.token_hash) == _sha256(raw))
        )
    ).first()
    if found is None:
        raise DxglError(ErrorCode.UNAUTHORIZED, "Not signed in")
    row, account = found
    _require_live(row.revoked_at, row.created_at, row.last_seen_at, account.status, idle_seconds=idle_seconds)
    now = utcnow()
    if touch and row.last_seen_at + TOUCH_EVERY <= now:
        await session.execute(update(PortalSession).where(col(PortalSession.id) == row.id).values(last_seen_at=now))
    return SessionInfo(row.id, account.id, account.email, row.csrf_token)


async def check_session(session: AsyncSession, session_id: str, *, idle_seconds: float) -> None:
    """Does the session still hold (a websocket's re-check)? Raises what :func:`session_from_cookie`
    would now. One primary-key lookup joined to the account; it does not extend the session."""
    found = (
        await session.execute(
            select(
                col(PortalSession.revoked_at),
                col(PortalSession.created_at),
                col(PortalSession.last_seen_at),
                col(Account.status),
            )
            .join(Account, col(Account.id) == col(PortalSession.account_id))
            .where(col(PortalSession.id) == session_id)
        )
    ).first()
    if found is None:
        raise DxglError(ErrorCode.UNAUTHORIZED, "Not signed in")
    revoked_at, created_at, last_seen_at, status = found
    _require_live(revoked_at, created_at, last_seen_at, status, idle_seconds=idle_seconds)


async def revoke_session(session: AsyncSession, session_id: str) -> None:
    await session.execute(
        update(PortalSession)
        .where(col(PortalSession.id) == session_id, col(PortalSession.revoked_at).is_(None))
        .values(revoked_at=utcnow())
    )


# --- one-time sign-in links -----------------------------------------------------------------------


async def create_signin_link(session: AsyncSession, *, account: Account) -> str:
    """A new one-time link token for ``account`` (valid ``LINK_TTL``); the raw token is not stored."""
    raw = _random_token()
    session.add(SigninLink(id=new_id(), account_id=account.id, token_hash=_sha256(raw), expires_at=utcnow() + LINK_TTL))
    await session.flush()
    return raw


def signin_url(public_url: str, raw: str) -> str:
    return f"{public_url.rstrip('/')}/auth/link?token={raw}"


async def peek_signin_link(session: AsyncSession, raw: str | None) -> str | None:
    """The email a live link (unused, unexpired, its account active) would sign in, without using
    it: opening the link shows who it signs in as and only a same-origin POST uses it, so a link
    preview cannot use it up and another site cannot sign a browser in to the sender's account."""
    if not raw or len(raw) > _MAX_RAW_LEN:
        return None
    row = (
        await session.execute(
            select(col(Account.email))
            .join(SigninLink, col(SigninLink.account_id) == col(Account.id))
            .where(
                col(SigninLink.token_hash) == _sha256(raw),
                col(SigninLink.used_at).is_(None),
                col(SigninLink.expires_at) > utcnow(),
                col(Account.status) == "active",
            )
        )
    ).first()
    return None if row is None else str(row[0])


async def consume_signin_link(session: AsyncSession, raw: str | None) -> tuple[SessionInfo, str] | None:
    """Use a link once: a new session and its raw cookie value, or None (unknown, used, expired, or
    the account is suspended)."""
    if not raw or len(raw) > _MAX_RAW_LEN:
        return None
    now = utcnow()
    token_hash = _sha256(raw)
    live: list[ColumnElement[bool]] = [
        col(SigninLink.token_hash) == token_hash,
        col(SigninLink.used_at).is_(None),
        col(SigninLink.expires_at) > now,
    ]
    link = (await session.execute(select(SigninLink).where(*live))).scalar_one_or_none()
    if link is None:
        return None
    # The conditional update is what makes it once: of two concurrent uses, one changes the row.
    result = await session.execute(update(SigninLink).where(col(SigninLink.id) == link.id, *live).values(used_at=now))
    if getattr(result, "rowcount", 0) != 1:
        return None
    account = await session.get_one(Account, link.account_id)
    if account.status != "active":
        return None
    return await create_session(session, account=account)


# --- password sign-in with the rate limit ---------------------------------------------------------


@dataclass(frozen=True)
class PasswordAttempt:
    """What :func:`begin_password_signin` found, for :func:`finish_password_signin`."""

    email: str
    password: str
    account_id: str | None
    password_hash: str | None


async def begin_password_signin(session: AsyncSession, email: object, password: object) -> PasswordAttempt:
    """The first transaction of a password sign-in: record the attempt as a failure **before** the
    password is verified, then refuse (429 with ``Retry-After``) when that makes more than
    ``MAX_FAILURES`` recent ones for the email; find the account's hash. Verify the password outside
    any transaction (:func:`verify_password`), then :func:`finish_password_signin` (a success forgets
    the email's failures). Recording first is what bounds concurrent guesses: attempts verifying at
    the same time each hold a row already, so a burst cannot all pass the count (on SQLite the write
    lock orders them, on PostgreSQL a transaction-scoped advisory lock per email does)."""
    if not isinstance(email, str) or not isinstance(password, str):
        raise DxglError(ErrorCode.INVALID_REQUEST, 'Send {"email": "...", "password": "..."} as strings')
    key = _email_key(email)
    since = utcnow() - FAILURE_WINDOW
    if session.get_bind().dialect.name == "postgresql":
        # One email's first transactions in turn (SQLite's write lock already orders them): held
        # until this transaction commits, a few milliseconds, never across the password check.
        await session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:email, 0))"), {"email": key})
    session.add(SigninFailure(email=key))
    await session.flush()
    count, oldest = (
        await session.execute(
            select(func.count(), func.min(col(SigninFailure.created_at))).where(
                col(SigninFailure.email) == key, col(SigninFailure.created_at) > since
            )
        )
    ).one()
    if count > MAX_FAILURES:  # this attempt's own row included; it is rolled back with the 429
        wait = (oldest + FAILURE_WINDOW - utcnow()).total_seconds() if oldest is not None else 1.0
        seconds = max(1, math.ceil(wait))
        raise DxglError(
            ErrorCode.RATE_LIMITED,
            f"Too many failed sign-ins for this email; retry in {seconds} s",
            headers={"Retry-After": str(seconds)},
        )
    found = (
        await session.execute(select(col(Account.id), col(Account.password_hash)).where(col(Account.email) == key))
    ).first()
    account_id, password_hash = found if found is not None else (None, None)
    return PasswordAttempt(key, password, account_id, password_hash)


async def finish_password_signin(
    session: AsyncSession, attempt: PasswordAttempt, verdict: Verdict
) -> tuple[SessionInfo, str] | DxglError:
    """The second transaction: on a wrong email or password keep the failure the first transaction
    recorded (pruning failures older than the window) and return the 401 to raise after the commit;
    on success forget the email's failures and open a session."""
    if not verdict.ok or attempt.account_id is None:
        await session.execute(delete(SigninFailure).where(col(SigninFailure.created_at) <= utcnow() - FAILURE_WINDOW))
        await session.flush()
        return DxglError(ErrorCode.UNAUTHORIZED, WRONG_CREDENTIALS)
    account = await session.get_one(Account, attempt.account_id)
    if account.status != "active":
        return DxglError(ErrorCode.FORBIDDEN, "This account is suspended")
    await session.execute(delete(SigninFailure).where(col(SigninFailure.email) == attempt.email))
    if verdict.rehash is not None and account.password_hash == attempt.password_hash:
        account.password_hash = verdict.rehash
    return await create_session(session, account=account)


# --- the public origin and the Origin rule --------------------------------------------------------


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL, lowercased, the scheme's default port left out (as a
    browser writes an ``Origin`` header)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    default = {"http": 80, "https": 443, "ws": 80, "wss": 443}.get(scheme)
    return f"{scheme}://{host}" + (f":{port}" if port is not None and port != default else "")


def expected_origin(
    public_url: str, *, trust_proxy: bool, forwarded_proto: str | None, forwarded_host: str | None
) -> str:
    """The origin browsers use for this service: ``DXGL_PUBLIC_URL``'s, or, with ``DXGL_TRUST_PROXY``
    and an ``X-Forwarded-Host`` from the proxy, the one built from ``X-Forwarded-Proto`` (else the
    public URL's scheme) and ``X-Forwarded-Host`` (their first values)."""
    public = origin_of(public_url)
    if trust_proxy and forwarded_host:
        host = forwarded_host.split(",")[0].strip()
        proto = (forwarded_proto or "").split(",")[0].strip().lower() or urlsplit(public_url).scheme.lower()
        if host and proto in ("http", "https"):
            return origin_of(f"{proto}://{host}")
    return public


def origin_matches(origin: str | None, expected: str) -> bool:
    """An ``Origin`` header equals the service's origin exactly (``null`` and anything else do not)."""
    return origin is not None and origin.strip().lower() == expected


async def authenticate_cookie(
    session: AsyncSession,
    *,
    cookie: str | None,
    origin: str | None,
    expected: str,
    csrf: str | None,
    require_csrf: bool,
    idle_seconds: float,
) -> SessionInfo:
    """The one rule for a cookie-authenticated request: its ``Origin`` (when sent) is the service's
    origin, its session is live, and (``require_csrf``: everything but the asset GETs) it carries the
    session's CSRF token. Any failure is 401 ``unauthorized`` (403 for a suspended account)."""
    if origin is not None and not origin_matches(origin, expected):
        raise DxglError(ErrorCode.UNAUTHORIZED, f"Cross-origin request refused: the session works from {expected} only")
    if require_csrf and not csrf:
        raise DxglError(ErrorCode.UNAUTHORIZED, f"A request with the session cookie needs the {CSRF_HEADER} header")
    info = await session_from_cookie(session, cookie, idle_seconds=idle_seconds)
    if require_csrf and not info.csrf_matches(csrf):
        raise DxglError(ErrorCode.UNAUTHORIZED, f"Wrong {CSRF_HEADER} token for this session")
    return info
