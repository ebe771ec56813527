"""API tokens managed by their account holder (the portal, GraphQL ``apiTokens``,
``createApiToken``, ``revokeApiToken``): list, create, revoke.

Rules, in one place:

- managing tokens needs a portal session (``Caller.portal_session``) or a token with the
  ``tokens:write`` scope; anything else is ``insufficient_scope``;
- a new token's scopes are a subset of its creator's (a portal session holds every scope): a scope
  beyond them is ``insufficient_scope`` naming it; an unknown scope is ``invalid_request``;
- only the caller's own account's tokens are listed or revoked: another account's token id is
  ``not_found``, exactly like an id that does not exist;
- the raw token is answered once, by ``create_token``; only its SHA-256 and display prefix are
  stored (``services.auth.create_token``). A revoked token is refused by ``authenticate`` at once.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from dxgl.contract import ErrorCode, Scope
from dxgl.errors import DxglError
from dxgl.ids import is_id
from dxgl.services import auth
from dxgl.services.auth import Caller
from dxgl.tables import Account, ApiToken
from dxgl.timeutil import utcnow

# Ten years: a longer-lived token is refused (invalid_request) rather than silently capped.
MAX_EXPIRES_IN_SECONDS = 10 * 365 * 24 * 3600
MAX_SCOPES = len(Scope)


def authorize_manage(caller: Caller) -> None:
    """May this caller list, create and revoke its account's tokens?"""
    if caller.portal_session:
        return
    if Scope.TOKENS_WRITE not in caller.scopes:
        raise DxglError(
            ErrorCode.INSUFFICIENT_SCOPE,
            f"Managing API tokens needs a portal session or the {Scope.TOKENS_WRITE} scope",
        )


def granted_scopes(caller: Caller) -> frozenset[str]:
    """What the caller may hand on to a new token: a portal session holds every scope."""
    return frozenset(auth.SCOPES) if caller.portal_session else caller.scopes


def account_tokens(account_id: str) -> list[ColumnElement[bool]]:
    """The account's tokens (the filter every read here goes through)."""
    return [col(ApiToken.account_id) == account_id]


def token_scopes(row: ApiToken) -> list[str]:
    return row.scopes.split()


def _requested_scopes(caller: Caller, scopes: Any) -> list[str]:
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise DxglError(ErrorCode.INVALID_REQUEST, "scopes must be a list of scope names")
    wanted = list(dict.fromkeys(s.strip() for s in scopes))
    if not wanted:
        raise DxglError(ErrorCode.INVALID_REQUEST, f"give at least one scope; known: {', '.join(auth.SCOPES)}")
    unknown = [s for s in wanted if s not in auth.SCOPES]
    if unknown:
        shown = ", ".join(repr(s[:64]) for s in unknown[:MAX_SCOPES])
        raise DxglError(ErrorCode.INVALID_REQUEST, f"unknown scope(s): {shown}; known: {', '.join(auth.SCOPES)}")
    extra = [s for s in wanted if s not in granted_scopes(caller)]
    if extra:
        raise DxglError(
            ErrorCode.INSUFFICIENT_SCOPE,
            f"A new token may only have scopes its creator has; this one lacks {', '.join(extra)}",
        )
    return wanted


async def list_tokens(session: AsyncSession, caller: Caller) -> list[ApiToken]:
    """Every token of the caller's account, revoked and expired ones included, newest first."""
    authorize_manage(caller)
    rows = await session.execute(
        select(ApiToken)
        .where(*account_tokens(caller.account_id))
        .order_by(col(ApiToken.created_at).desc(), col(ApiToken.id))
    )
    return list(rows.scalars())


async def create_token(
    session: AsyncSession, caller: Caller, *, scopes: Any, expires_in_seconds: Any = None
) -> tuple[ApiToken, str]:
    """A new token of the caller's account; returns the row and the raw token (never stored)."""
    authorize_manage(caller)
    wanted = _requested_scopes(caller, scopes)
    if expires_in_seconds is not None and (
        isinstance(expires_in_seconds, bool)
        or not isinstance(expires_in_seconds, int)
        or not 0 < expires_in_seconds <= MAX_EXPIRES_IN_SECONDS
    ):
        raise DxglError(
            ErrorCode.INVALID_REQUEST,
            f"expiresInSeconds must be a whole number of seconds from 1 to {MAX_EXPIRES_IN_SECONDS}",
        )
    await _within_creator_lifetime(session, caller, expires_in_seconds)
    account = await session.get_one(Account, caller.account_id)
    return await auth.create_token(session, account=account, scopes=wanted, expires_in_seconds=expires_in_seconds)


async def _within_creator_lifetime(session: AsyncSession, caller: Caller, expires_in_seconds: int | None) -> None:
    """A token made by an expiring token may not outlive it (else a leaked short-lived token with
    ``tokens:write`` would mint permanent access): ``invalid_request`` naming the most it may ask."""
    if caller.portal_session:
        return
    creator = await session.get(ApiToken, caller.token_id)
    if creator is None or creator.expires_at is None:
        return
    left = max(int((creator.expires_at - utcnow()).total_seconds()), 0)
    if expires_in_seconds is None or expires_in_seconds > left:
        raise DxglError(
            ErrorCode.INVALID_REQUEST,
            f"this token expires in {left} s, so the tokens it creates must too: set expiresInSeconds to at most {left}",
        )


async def revoke_token(session: AsyncSession, caller: Caller, token_id: Any) -> ApiToken:
    """Revoke one of the caller's account's tokens (again: no change); ``not_found`` otherwise."""
    authorize_manage(caller)
    row = await session.get(ApiToken, token_id) if is_id(token_id) else None
    if row is None or row.account_id != caller.account_id:
        raise DxglError(ErrorCode.NOT_FOUND, "API token not found")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        await session.flush()
    return row
