"""Accounts: creation, suspension, portal passwords, credit grants and the account view."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from dxgl.contract import ErrorCode, Scope
from dxgl.errors import DxglError
from dxgl.ids import new_id
from dxgl.services import sessions
from dxgl.services.auth import Caller
from dxgl.tables import Account, LedgerEntry


def _normalise_email(email: str) -> str:
    email = email.strip().lower()
    if "@" not in email or len(email) > 320:
        raise DxglError(ErrorCode.INVALID_REQUEST, f"not an email address: {email!r}")
    return email


async def create_account(session: AsyncSession, *, email: str, paid_credits: int = 0, free_credits: int = 2) -> Account:
    email = _normalise_email(email)
    if paid_credits < 0 or free_credits < 0:
        raise DxglError(ErrorCode.INVALID_REQUEST, "credits cannot be negative")
    if (await session.execute(select(col(Account.id)).where(col(Account.email) == email))).first():
        raise DxglError(ErrorCode.INVALID_REQUEST, f"an account with email {email} already exists")
    account = Account(id=new_id(), email=email, ever_paid=paid_credits > 0)
    session.add(account)
    await session.flush()
    if paid_credits or free_credits:
        await grant_credits(session, account=account, paid=paid_credits, free=free_credits, note="account created")
    return account


async def set_password(session: AsyncSession, *, account: Account, password: str) -> None:
    """Set (or replace) the account's portal password: argon2id, at least
    ``sessions.MIN_PASSWORD_LENGTH`` characters. Every open portal session of the account ends."""
    account.password_hash = await sessions.hash_password(password)
    await sessions.revoke_account_sessions(session, account_id=account.id)
    await session.flush()


async def get_by_email(session: AsyncSession, email: str) -> Account:
    account = (
        await session.execute(select(Account).where(col(Account.email) == _normalise_email(email)))
    ).scalar_one_or_none()
    if account is None:
        raise DxglError(ErrorCode.NOT_FOUND, f"no account with email {email}")
    return account


async def get_account(session: AsyncSession, caller: Caller) -> Account:
    caller.require(Scope.ACCOUNT_READ)
    return await session.get_one(Account, caller.account_id)


async def set_status(session: AsyncSession, *, account: Account, status: str) -> None:
    if status not in ("active", "suspended"):
        raise DxglError(ErrorCode.INVALID_REQUEST, "status must be active or suspended")
    account.status = status
    await session.flush()


async def grant_credits(
    session: AsyncSession, *, account: Account, paid: int = 0, free: int = 0, note: str = ""
) -> None:
    """Add credits with a ledger row, as one atomic increment (safe beside concurrent charges)."""
    if paid < 0 or free < 0 or (paid == 0 and free == 0):
        raise DxglError(ErrorCode.INVALID_REQUEST, "grant a positive number of credits")
    values: dict[str, Any] = {
        "paid_credits": col(Account.paid_credits) + paid,
        "free_credits": col(Account.free_credits) + free,
    }
    if paid > 0:
        values["ever_paid"] = True
    await session.execute(update(Account).where(col(Account.id) == account.id).values(**values))
    session.add(LedgerEntry(account_id=account.id, kind="grant", paid_delta=paid, free_delta=free, note=note))
    await session.flush()
    await session.refresh(account)
