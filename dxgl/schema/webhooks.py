"""Webhook endpoints in GraphQL: the same services as /v1/webhooks (docs/webhooks.md)."""

from __future__ import annotations

import enum
from typing import Any

import strawberry
from strawberry.types import Info

from dxgl.schema.types import Deleted, IdempotencyKey
from dxgl.services import webhooks as webhook_service
from dxgl.tables import WebhookAttempt as AttemptRow
from dxgl.tables import WebhookDelivery as DeliveryRow
from dxgl.tables import WebhookEndpoint as EndpointRow
from dxgl.timeutil import iso

WebhookEventEnum: Any = strawberry.enum(
    enum.Enum(  # type: ignore[misc]
        "WebhookEventType",
        {
            t.replace(".", "_").upper(): strawberry.enum_value(t, description=f'"{t}"')
            for t in webhook_service.EVENT_TYPES
        },
    ),
    name="WebhookEventType",
    description="The events an endpoint can subscribe to (docs/webhooks.md).",
)


def _values(events: list[Any] | None) -> list[str] | None:
    return None if events is None else [e.value if isinstance(e, enum.Enum) else e for e in events]


def _changes(**fields: Any) -> dict[str, Any]:
    """Only the arguments the client gave, under the REST body's names."""
    return {name: value for name, value in fields.items() if value is not strawberry.UNSET}


@strawberry.type(description="One try of a delivery.")
class WebhookAttempt:
    number: int
    at: str
    status_code: int | None = strawberry.field(description="null: nothing was answered (see error).")
    duration_ms: int
    error: str | None

    @classmethod
    def from_row(cls, row: AttemptRow) -> WebhookAttempt:
        return cls(
            number=row.number,
            at=iso(row.created_at) or "",
            status_code=row.status_code,
            duration_ms=row.duration_ms,
            error=row.error,
        )


@strawberry.type(description="One event sent (or being sent) to an endpoint.")
class WebhookDelivery:
    id: str = strawberry.field(description="The webhook-id header: the same on every retry.")
    type: str
    status: str = strawberry.field(description="pending, succeeded or failed.")
    attempts: int
    next_attempt_at: str | None
    last_status_code: int | None
    last_error: str | None
    created_at: str
    completed_at: str | None
    attempt_log: list[WebhookAttempt]

    @classmethod
    def from_row(cls, row: DeliveryRow, attempts: list[AttemptRow] | None = None) -> WebhookDelivery:
        return cls(
            id=row.message_id,
            type=row.event_type,
            status=row.status,
            attempts=row.attempts,
            next_attempt_at=iso(row.next_attempt_at) if row.status == webhook_service.PENDING else None,
            last_status_code=row.last_status_code,
            last_error=row.last_error,
            created_at=iso(row.created_at) or "",
            completed_at=iso(row.completed_at),
            attempt_log=[WebhookAttempt.from_row(a) for a in attempts or []],
        )


@strawberry.type(description="A webhook endpoint of the account.")
class WebhookEndpoint:
    id: strawberry.ID
    url: str
    description: str
    events: list[WebhookEventEnum]  # type: ignore[valid-type]
    credits_low_threshold: int
    enabled: bool
    disabled_reason: str | None
    disabled_at: str | None
    created_at: str
    updated_at: str
    row: strawberry.Private[EndpointRow]

    @classmethod
    def from_row(cls, row: EndpointRow) -> WebhookEndpoint:
        return cls(
            id=strawberry.ID(row.id),
            url=row.url,
            description=row.description,
            events=[WebhookEventEnum(e) for e in row.events],
            credits_low_threshold=row.credits_low_threshold,
            enabled=row.enabled,
            disabled_reason=row.disabled_reason,
            disabled_at=iso(row.disabled_at),
            created_at=iso(row.created_at) or "",
            updated_at=iso(row.updated_at) or "",
            row=row,
        )

    @strawberry.field(description="The latest deliveries (newest first), each with its attempts.")
    async def deliveries(self, info: Info) -> list[WebhookDelivery]:
        async with info.context.unit_of_work() as session:
            logs = await webhook_service.recent_deliveries(session, self.row)
            return [WebhookDelivery.from_row(d.delivery, d.attempts) for d in logs]


@strawberry.type(description="An endpoint with its signing secret (shown only in this answer).")
class WebhookWithSecret:
    webhook: WebhookEndpoint
    secret: str


@strawberry.type
class WebhookQuery:
    @strawberry.field(description="The account's webhook endpoints (scope webhooks:read).")
    async def webhooks(self, info: Info) -> list[WebhookEndpoint]:
        caller = await info.context.caller()
        async with info.context.unit_of_work() as session:
            return [WebhookEndpoint.from_row(r) for r in await webhook_service.list_endpoints(session, caller)]

    @strawberry.field(description="One webhook endpoint (scope webhooks:read).")
    async def webhook(self, info: Info, id: strawberry.ID) -> WebhookEndpoint:
        caller = await info.context.caller()
        async with info.context.unit_of_work() as session:
            return WebhookEndpoint.from_row(await webhook_service.get_endpoint(session, caller, str(id)))


@strawberry.type
class WebhookMutation:
    @strawberry.mutation(description="Create a webhook endpoint; its secret is answered only here.")
    async def create_webhook(
        self,
        info: Info,
        url: str,
        events: list[WebhookEventEnum],  # type: ignore[valid-type]
        description: str | None = None,
        credits_low_threshold: int | None = None,
        idempotency_key: IdempotencyKey = None,
    ) -> WebhookWithSecret:
        ctx = info.context
        caller = await ctx.caller()
        arguments = {
            "url": url,
            "events": _values(events),
            "description": description,
            "creditsLowThreshold": credits_low_threshold,
        }

        async def work(session: Any) -> dict[str, str]:
            row, secret = await webhook_service.create_endpoint(
                session,
                caller,
                url=url,
                events=_values(events),
                description=description,
                credits_low_threshold=credits_low_threshold,
                allow_private=ctx.runtime.settings.webhook_allow_private,
            )
            return {"id": row.id, "secret": secret}

        # A replay answers the first run's endpoint and secret (the endpoint as it is now).
        first = await ctx.idempotent(idempotency_key, "createWebhook", arguments, work)
        async with ctx.unit_of_work() as session:
            row = await webhook_service.get_endpoint(session, caller, first["id"])
            return WebhookWithSecret(webhook=WebhookEndpoint.from_row(row), secret=first["secret"])

    @strawberry.mutation(description="Change an endpoint; arguments left out stay. enabled: true re-enables it.")
    async def update_webhook(
        self,
        info: Info,
        id: strawberry.ID,
        url: str | None = strawberry.UNSET,
        events: list[WebhookEventEnum] | None = strawberry.UNSET,  # type: ignore[valid-type]
        description: str | None = strawberry.UNSET,
        credits_low_threshold: int | None = strawberry.UNSET,
        enabled: bool | None = strawberry.UNSET,
    ) -> WebhookEndpoint:
        changes = _changes(
            url=url,
            events=_values(events) if events is not strawberry.UNSET else events,
            description=description,
            creditsLowThreshold=credits_low_threshold,
            enabled=enabled,
        )
        caller = await info.context.caller()
        async with info.context.unit_of_work() as session:
            row = await webhook_service.update_endpoint(
                session,
                caller,
                str(id),
                changes=changes,
                allow_private=info.context.runtime.settings.webhook_allow_private,
            )
            return WebhookEndpoint.from_row(row)

    @strawberry.mutation(description="Delete an endpoint and its delivery log.")
    async def delete_webhook(self, info: Info, id: strawberry.ID) -> Deleted:
        caller = await info.context.caller()
        async with info.context.unit_of_work() as session:
            row = await webhook_service.delete_endpoint(session, caller, str(id))
            return Deleted(id=strawberry.ID(row.id), deleted=True)

    @strawberry.mutation(description="A new signing secret (answered only here); the old one also signs for 24 h.")
    async def rotate_webhook_secret(self, info: Info, id: strawberry.ID) -> WebhookWithSecret:
        caller = await info.context.caller()
        async with info.context.unit_of_work() as session:
            row, secret = await webhook_service.rotate_secret(session, caller, str(id))
            return WebhookWithSecret(webhook=WebhookEndpoint.from_row(row), secret=secret)

    @strawberry.mutation(description="Queue a webhook.test event to this endpoint.")
    async def test_webhook(self, info: Info, id: strawberry.ID) -> WebhookDelivery:
        caller = await info.context.caller()
        async with info.context.unit_of_work() as session:
            return WebhookDelivery.from_row(await webhook_service.send_test(session, caller, str(id)))
