"""API tokens: creation, hashing, authentication of a bearer header, and scopes.

A token is ``dxgl_sk_`` + 40 random base62 characters + a 6-character checksum, so a mistyped or
truncated token is refused without touching the database. Only its SHA-256 and a short prefix are
stored; the raw token is shown once.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from dxgl.contract import ErrorCode, Scope
from dxgl.errors import DxglError
from dxgl.ids import BASE62, new_id, random_base62
from dxgl.tables import Account, ApiToken
from dxgl.timeutil import utcnow

TOKEN_PREFIX = "dxgl_sk_"
_RANDOM_LEN = 40
_CHECK_LEN = 6
_TOKEN_RE = re.compile(rf"^{TOKEN_PREFIX}([0-9A-Za-z]{{{_RANDOM_LEN}}})([0-9A-Za-z]{{{_CHECK_LEN}}})$")
# What `dxgl tokens revoke PREFIX` matches and what listings show: dxgl_sk_ + 8 characters.
DISPLAY_PREFIX_LEN = len(TOKEN_PREFIX) + 8

SCOPES: tuple[str, ...] = tuple(scope.value for scope in Scope)


def _checksum(random_part: str) -> str:
    value = zlib.crc32(random_part.encode())
    chars = []
    for _ in range(_CHECK_LEN):
        value, rem = divmod(value, 62)
        chars.append(BASE62[rem])
    return "".join(chars)


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def parse_scopes(text: str | None) -> list[str]:
    """``"a,b"`` -> scopes; ``None`` or empty means every scope."""
    if not text:
        return list(SCOPES)
    scopes = [s.strip() for s in text.replace(" ", ",").split(",") if s.strip()]
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise DxglError(
            ErrorCode.INVALID_REQUEST, f"unknown scope(s): {', '.join(unknown)}; known: {', '.join(SCOPES)}"
        )
    return scopes


@dataclass(frozen=True)
class Caller:
    """The authenticated account and what its token may do."""

    account_id: str
    token_id: str  # the API token's id; for a portal session, the session's id
    scopes: frozenset[str]
    # True when authenticated by a portal session cookie (docs/portal.md), not a Bearer token.
    portal_session: bool = False

    def require(self, scope: Scope) -> None:
        if scope not in self.scopes:
            raise DxglError(ErrorCode.INSUFFICIENT_SCOPE, f"This token lacks the {scope} scope")


async def create_token(
    session: AsyncSession,
    *,
    account: Account,
    scopes: list[str] | None = None,
    expires_in_seconds: int | None = None,
) -> tuple[ApiToken, str]:
    """Create a token; returns the row and the raw token (which is not stored)."""
    random_part = random_base62(_RANDOM_LEN)
    raw = TOKEN_PREFIX + random_part + _checksum(random_part)
    if expires_in_seconds is not None and expires_in_seconds <= 0:
        raise DxglError(ErrorCode.INVALID_REQUEST, "expires-in must be a positive number of seconds")
    row = ApiToken(
        id=new_id(),
        account_id=account.id,
        prefix=raw[:DISPLAY_PREFIX_LEN],
        token_hash=hash_token(raw),
        scopes=" ".join(scopes if scopes is not None else SCOPES),
        expires_at=utcnow() + timedelta(seconds=expires_in_seconds) if expires_in_seconds else None,
    )
    session.add(row)
    await session.flush()
    return row, raw


async def revoke_tokens(session: AsyncSession, *, prefix: str) -> int:
    """Revoke every live token whose display prefix starts with ``prefix``; returns how many."""
    if len(prefix) < len(TOKEN_PREFIX) + 4:
        raise DxglError(ErrorCode.INVALID_REQUEST, "give at least dxgl_sk_ and 4 more characters of the token")
    key = prefix[:DISPLAY_PREFIX_LEN]  # a whole raw token works too
    matched = (
        (
            await session.execute(
                select(ApiToken).where(
                    col(ApiToken.revoked_at).is_(None), col(ApiToken.prefix).startswith(key, autoescape=True)
                )
            )
        )
        .scalars()
        .all()
    )
    for row in matched:
        row.revoked_at = utcnow()
    await session.flush()
    return len(matched)


def _bearer_token(header: str | None) -> str:
    if not header:
        raise DxglError(
            ErrorCode.UNAUTHORIZED, "Missing Authorization header: send 'Authorization: Bearer dxgl_sk_...'"
        )
    if len(header) > 1024:
        raise DxglError(ErrorCode.UNAUTHORIZED, "Authorization header is too long")
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise DxglError(ErrorCode.UNAUTHORIZED, "Authorization header must be 'Bearer dxgl_sk_...'")
    match = _TOKEN_RE.match(token)
    if not match or _checksum(match.group(1)) != match.group(2):
        raise DxglError(ErrorCode.UNAUTHORIZED, "Malformed API token")
    return token


async def authenticate(session: AsyncSession, header: str | None) -> Caller:
    """Turn an ``Authorization`` header into a Caller, or raise the documented 401/403 error."""
    raw = _bearer_token(header)
    row = (
        await session.execute(
            select(ApiToken, Account)
            .join(Account, col(Account.id) == col(ApiToken.account_id))
            .where(col(ApiToken.token_hash) == hash_token(raw))
        )
    ).first()
    if row is None:
        raise DxglError(ErrorCode.UNAUTHORIZED, "Unknown API token")
    token, account = row
    _require_live(token.revoked_at, token.expires_at, account.status)
    return Caller(account_id=account.id, token_id=token.id, scopes=frozenset(token.scopes.split()))


def single_authorization(values: Sequence[str]) -> str | None:
    """The one ``Authorization`` header of a request; two or more are 401, never one picked
    silently (REST and GraphQL alike)."""
    if len(values) > 1:
        raise DxglError(ErrorCode.UNAUTHORIZED, "Send one Authorization header, not several")
    return values[0] if values else None


async def check_caller(session: AsyncSession, caller: Caller) -> None:
    """Does ``caller`` still hold? Raises what :func:`authenticate` would now (401 revoked or unknown,
    401 ``token_expired``, 403 suspended). One primary-key lookup of the token joined to its account:
    what a long-lived connection (a websocket) runs on every operation and periodically."""
    row = (
        await session.execute(
            select(col(ApiToken.revoked_at), col(ApiToken.expires_at), col(Account.status))
            .join(Account, col(Account.id) == col(ApiToken.account_id))
            .where(col(ApiToken.id) == caller.token_id)
        )
    ).first()
    if row is None:
        raise DxglError(ErrorCode.UNAUTHORIZED, "Unknown API token")
    revoked_at, expires_at, status = row
    _require_live(revoked_at, expires_at, status)


def _require_live(revoked_at: datetime | None, expires_at: datetime | None, status: str) -> None:
    if revoked_at is not None:
        raise DxglError(ErrorCode.UNAUTHORIZED, "This API token has been revoked")
    if expires_at is not None and expires_at <= utcnow():
        raise DxglError(ErrorCode.TOKEN_EXPIRED)
    if status != "active":
        raise DxglError(ErrorCode.FORBIDDEN, "This account is suspended")
