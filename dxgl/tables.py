"""SQLModel tables. The database is the source of truth for accounts, credits and render state.

Timestamps are aware UTC (sqlmodel stores them as UTC on every database); ``dxgl.timeutil``
formats them for the API.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from dxgl.contract import DEFAULT_ALIGNMENT, RenderStatus
from dxgl.timeutil import utcnow


class Account(SQLModel, table=True):
    __tablename__ = "accounts"

    id: str = Field(primary_key=True, max_length=32)
    email: str = Field(max_length=320, unique=True, index=True)
    paid_credits: int = Field(default=0)
    free_credits: int = Field(default=0)
    status: str = Field(default="active", max_length=16)  # active | suspended
    # True once paid credits were ever granted: the free upload cap no longer applies.
    ever_paid: bool = Field(default=False)
    # argon2id (PHC string) of the portal password; None: no password sign-in (links still work).
    password_hash: str | None = Field(default=None, max_length=255)
    created_at: datetime = Field(default_factory=utcnow)


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_tokens"

    id: str = Field(primary_key=True, max_length=32)
    account_id: str = Field(foreign_key="accounts.id", index=True, max_length=32)
    prefix: str = Field(index=True, max_length=32)
    token_hash: str = Field(unique=True, max_length=64)  # hex SHA-256 of the raw token
    scopes: str = Field(default="", max_length=512)  # space-separated
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class Model3D(SQLModel, table=True):
    """An uploaded 3D model (stored as one GLB)."""

    __tablename__ = "models"
    __table_args__ = (
        # One live model per file per account: the database settles concurrent duplicate uploads.
        Index(
            "uq_models_account_sha256_live",
            "account_id",
            "sha256",
            unique=True,
            sqlite_where=text("deleted_at IS NULL"),
            postgresql_where=text("deleted_at IS NULL"),
        ),
    )

    id: str = Field(primary_key=True, max_length=32)
    account_id: str = Field(foreign_key="accounts.id", index=True, max_length=32)
    original_name: str = Field(default="", max_length=255)
    title: str | None = Field(default=None, max_length=255)
    sku: str | None = Field(default=None, max_length=255)
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    file_size: int = 0
    sha256: str = Field(max_length=64)
    storage_key: str = Field(max_length=255)
    source_kind: str = Field(default="glb", max_length=16)
    warnings: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # The decoded, normalised GLB renders load (contract.decoded_model_key); None: the model file
    # itself is already plain glTF and is what renders load.
    decoded_key: str | None = Field(default=None, max_length=255)
    # The inspection report computed at upload (docs/ingest.md); {} for models stored before it.
    inspection: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # Set when the system preview failed because of the file: paid renders then fail at once.
    broken_reason: str | None = Field(default=None, max_length=1000)
    archived_at: datetime | None = None
    deleted_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow, index=True)


class ModelTag(SQLModel, table=True):
    """One row per (model, tag), so the OR filter on tags is plain SQL on every database."""

    __tablename__ = "model_tags"

    model_id: str = Field(foreign_key="models.id", primary_key=True, max_length=32)
    tag: str = Field(primary_key=True, max_length=64, index=True)


class Render(SQLModel, table=True):
    __tablename__ = "renders"

    id: str = Field(primary_key=True, max_length=32)
    account_id: str = Field(foreign_key="accounts.id", index=True, max_length=32)
    model_id: str = Field(foreign_key="models.id", index=True, max_length=32)
    batch_id: str | None = Field(default=None, index=True, max_length=32)
    status: str = Field(default=RenderStatus.PENDING.value, max_length=32, index=True)
    settings: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    cost: int = 0
    paid_credits_used: int = 0
    free_credits_used: int = 0
    watermark: bool = False
    file_size: int | None = None
    error_message: str | None = None
    has_web_variant: bool = False
    # The free system preview made on every upload (no credits, no watermark, no webhooks).
    is_system_preview: bool = Field(default=False, index=True)
    # Asset names present in storage (video, web, thumb, poster, poster_small, bundle members).
    assets: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    attempts: int = 0
    lease_until: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow, index=True)
    updated_at: datetime = Field(default_factory=utcnow)


class LedgerEntry(SQLModel, table=True):
    """Every grant, charge and refund. An account's balance always equals the sum of its rows."""

    __tablename__ = "ledger"
    __table_args__ = (
        # A render is charged once and refunded at most once.
        UniqueConstraint("render_id", "kind", name="uq_ledger_render_kind"),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: str = Field(foreign_key="accounts.id", index=True, max_length=32)
    kind: str = Field(max_length=16)  # grant | charge | refund
    paid_delta: int = 0
    free_delta: int = 0
    render_id: str | None = Field(default=None, max_length=32)
    note: str = Field(default="", max_length=255)
    created_at: datetime = Field(default_factory=utcnow)


class Overlay(SQLModel, table=True):
    """A reusable background or foreground image. ``account_id`` None = a published system overlay."""

    __tablename__ = "overlays"

    id: str = Field(primary_key=True, max_length=32)
    account_id: str | None = Field(default=None, foreign_key="accounts.id", index=True, max_length=32)
    layer: str = Field(max_length=16)  # background | foreground
    name: str = Field(default="", max_length=100)
    description: str = Field(default="", max_length=500)
    alignment: str = Field(default=DEFAULT_ALIGNMENT.value, max_length=16)
    storage_key: str = Field(max_length=255)
    media_type: str = Field(max_length=32)
    width: int = 0
    height: int = 0
    file_size: int = 0
    created_at: datetime = Field(default_factory=utcnow)


# --- portal sign-in (docs/portal.md; rules in dxgl/services/sessions.py) --------------------------


class SigninLink(SQLModel, table=True):
    """A one-time sign-in link: valid 15 minutes, once. Only the token's SHA-256 is stored."""

    __tablename__ = "signin_links"

    id: str = Field(primary_key=True, max_length=32)
    account_id: str = Field(foreign_key="accounts.id", index=True, max_length=32)
    token_hash: str = Field(unique=True, max_length=64)  # hex SHA-256 of the raw link token
    expires_at: datetime
    used_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class PortalSession(SQLModel, table=True):
    """A browser session of the portal (the ``dxgl_session`` cookie). Only the cookie's SHA-256 is
    stored; ``csrf_token`` is kept plain (useless without the cookie, and the portal reads it back
    from ``GET /auth/session`` on every load)."""

    __tablename__ = "portal_sessions"

    id: str = Field(primary_key=True, max_length=32)
    account_id: str = Field(foreign_key="accounts.id", index=True, max_length=32)
    token_hash: str = Field(unique=True, max_length=64)  # hex SHA-256 of the raw cookie value
    csrf_token: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None


class SigninFailure(SQLModel, table=True):
    """One failed password sign-in for an email (known or not): the rate limit counts these in the
    database, so it holds across every API process. Rows older than the window are pruned."""

    __tablename__ = "signin_failures"
    __table_args__ = (Index("ix_signin_failures_email_created_at", "email", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320)
    created_at: datetime = Field(default_factory=utcnow, index=True)


class IdempotencyRecord(SQLModel, table=True):
    """One ``Idempotency-Key`` of an account (docs/api.md, "Idempotent requests"): the request it
    was first used with (``request_hash``: SHA-256 of the method, path and body, a multipart
    upload's file by its SHA-256) and, once that request has finished, the response to replay.
    ``status_code`` is null while the first request is still running. Rows expire after 24 h."""

    __tablename__ = "idempotency_keys"

    account_id: str = Field(foreign_key="accounts.id", primary_key=True, max_length=32)
    key: str = Field(primary_key=True, max_length=255)
    request_hash: str = Field(max_length=64)
    status_code: int | None = None
    response_body: str | None = None  # the JSON text as first sent
    response_headers: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime = Field(index=True)


# --- webhooks (docs/webhooks.md; rules in dxgl/services/webhooks.py) ------------------------------


class WebhookEndpoint(SQLModel, table=True):
    """An account's webhook endpoint. ``secret`` is kept as it is (not hashed): every delivery is
    signed with it (an HMAC needs the key itself); ``previous_secret`` also signs until
    ``previous_secret_expires_at`` after a rotation."""

    __tablename__ = "webhook_endpoints"

    id: str = Field(primary_key=True, max_length=32)
    account_id: str = Field(foreign_key="accounts.id", index=True, max_length=32)
    url: str = Field(max_length=2048)
    description: str = Field(default="", max_length=500)
    events: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # credits.low fires when a charge takes the balance (paid + free) from at least this to below it.
    credits_low_threshold: int = Field(default=10)
    secret: str = Field(max_length=64)
    previous_secret: str | None = Field(default=None, max_length=64)
    previous_secret_expires_at: datetime | None = None
    enabled: bool = Field(default=True)
    disabled_reason: str | None = Field(default=None, max_length=500)
    disabled_at: datetime | None = None
    # The first failure of the current run of failures (None after a success): a day of it disables.
    failing_since: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class WebhookDelivery(SQLModel, table=True):
    """One event for one endpoint: the outbox row, written in the transaction that caused the
    event. ``body`` is the JSON exactly as sent (every attempt signs the same bytes); ``seq`` orders
    the deliveries of one ``ordering_key`` (a render's id) per endpoint."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),)

    seq: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(unique=True, max_length=40)  # the webhook-id header, the same on every retry
    endpoint_id: str = Field(foreign_key="webhook_endpoints.id", index=True, max_length=32)
    account_id: str = Field(foreign_key="accounts.id", index=True, max_length=32)
    event_type: str = Field(max_length=32)
    ordering_key: str | None = Field(default=None, max_length=32)
    body: str
    status: str = Field(default="pending", max_length=16)  # pending | succeeded | failed
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow)
    lease_until: datetime | None = None
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    completed_at: datetime | None = None


class WebhookAttempt(SQLModel, table=True):
    """One try of a delivery: what the endpoint answered (or why nothing was sent) and how long it took."""

    __tablename__ = "webhook_attempts"

    id: int | None = Field(default=None, primary_key=True)
    delivery_seq: int = Field(foreign_key="webhook_deliveries.seq", index=True)
    number: int
    status_code: int | None = None
    duration_ms: int = 0
    error: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow)
