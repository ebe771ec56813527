"""/v1/webhooks: webhook endpoints (docs/webhooks.md). Rules in ``dxgl.services.webhooks``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from dxgl.rest.http import authed, creating, json_object, ok, runtime
from dxgl.rest.openapi_parts import ID, ID_PARAM, TIMESTAMP, data_envelope, json_body, json_ok, nullable, obj, ref
from dxgl.services import webhooks
from dxgl.services.auth import Caller
from dxgl.tables import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from dxgl.timeutil import iso

# --- JSON shapes -----------------------------------------------------------------------------------


def endpoint_json(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "description": endpoint.description,
        "events": list(endpoint.events),
        "creditsLowThreshold": endpoint.credits_low_threshold,
        "enabled": endpoint.enabled,
        "disabledReason": endpoint.disabled_reason,
        "disabledAt": iso(endpoint.disabled_at),
        "createdAt": iso(endpoint.created_at),
        "updatedAt": iso(endpoint.updated_at),
    }


def attempt_json(attempt: WebhookAttempt) -> dict[str, Any]:
    return {
        "number": attempt.number,
        "at": iso(attempt.created_at),
        "statusCode": attempt.status_code,
        "durationMs": attempt.duration_ms,
        "error": attempt.error,
    }


def delivery_json(delivery: WebhookDelivery, attempts: list[WebhookAttempt] | None = None) -> dict[str, Any]:
    return {
        "id": delivery.message_id,
        "type": delivery.event_type,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "nextAttemptAt": iso(delivery.next_attempt_at) if delivery.status == webhooks.PENDING else None,
        "lastStatusCode": delivery.last_status_code,
        "lastError": delivery.last_error,
        "createdAt": iso(delivery.created_at),
        "completedAt": iso(delivery.completed_at),
        "attemptLog": [attempt_json(a) for a in attempts or []],
    }


# --- handlers --------------------------------------------------------------------------------------


def _allow_private(request: Request) -> bool:
    return runtime(request).settings.webhook_allow_private


@creating
async def create_webhook(request: Request, session: AsyncSession, caller: Caller) -> Response:
    body = await json_object(request)
    endpoint, secret = await webhooks.create_endpoint(
        session,
        caller,
        url=body.get("url"),
        events=body.get("events"),
        description=body.get("description"),
        credits_low_threshold=body.get("creditsLowThreshold"),
        allow_private=_allow_private(request),
        fields=body.keys(),
    )
    return ok({**endpoint_json(endpoint), "secret": secret}, status=201)


@authed
async def list_webhooks(request: Request, session: AsyncSession, caller: Caller) -> Response:
    return ok([endpoint_json(e) for e in await webhooks.list_endpoints(session, caller)])


@authed
async def get_webhook(request: Request, session: AsyncSession, caller: Caller) -> Response:
    endpoint = await webhooks.get_endpoint(session, caller, request.path_params["id"])
    logs = await webhooks.recent_deliveries(session, endpoint)
    return ok({**endpoint_json(endpoint), "deliveries": [delivery_json(d.delivery, d.attempts) for d in logs]})


@authed
async def update_webhook(request: Request, session: AsyncSession, caller: Caller) -> Response:
    body = await json_object(request)
    endpoint = await webhooks.update_endpoint(
        session, caller, request.path_params["id"], changes=body, allow_private=_allow_private(request)
    )
    return ok(endpoint_json(endpoint))


@authed
async def delete_webhook(request: Request, session: AsyncSession, caller: Caller) -> Response:
    endpoint = await webhooks.delete_endpoint(session, caller, request.path_params["id"])
    return ok({"id": endpoint.id, "deleted": True})


@authed
async def rotate_webhook_secret(request: Request, session: AsyncSession, caller: Caller) -> Response:
    endpoint, secret = await webhooks.rotate_secret(session, caller, request.path_params["id"])
    return ok({**endpoint_json(endpoint), "secret": secret})


@authed
async def test_webhook(request: Request, session: AsyncSession, caller: Caller) -> Response:
    delivery = await webhooks.send_test(session, caller, request.path_params["id"])
    return ok(delivery_json(delivery), status=202)


routes: list[BaseRoute] = [
    Route("/webhooks", create_webhook, methods=["POST"]),
    Route("/webhooks", list_webhooks, methods=["GET"]),
    Route("/webhooks/{id}", get_webhook, methods=["GET"]),
    Route("/webhooks/{id}", update_webhook, methods=["PATCH"]),
    Route("/webhooks/{id}", delete_webhook, methods=["DELETE"]),
    Route("/webhooks/{id}/rotate-secret", rotate_webhook_secret, methods=["POST"]),
    Route("/webhooks/{id}/test", test_webhook, methods=["POST"]),
]


# --- the OpenAPI document --------------------------------------------------------------------------


def openapi_paths(operation: Callable[..., dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The OpenAPI path items of these routes (merged into ``/v1/openapi.json``); ``operation`` is
    ``dxgl.rest.openapi.operation`` (passed in: that module imports this one)."""
    event = {"type": "string", "enum": list(webhooks.EVENT_TYPES)}
    endpoint_fields: dict[str, Any] = {
        "id": ID,
        "url": {"type": "string", "format": "uri"},
        "description": {"type": "string"},
        "events": {"type": "array", "items": event, "minItems": 1},
        "creditsLowThreshold": {"type": "integer", "minimum": 0},
        "enabled": {"type": "boolean"},
        "disabledReason": nullable({"type": "string"}),
        "disabledAt": nullable(TIMESTAMP),
        "createdAt": TIMESTAMP,
        "updatedAt": TIMESTAMP,
    }
    secret = {"type": "string", "pattern": "^whsec_", "description": "Shown only in this response"}
    attempt = obj(
        {
            "number": {"type": "integer", "minimum": 1},
            "at": TIMESTAMP,
            "statusCode": nullable({"type": "integer"}),
            "durationMs": {"type": "integer", "minimum": 0},
            "error": nullable({"type": "string"}),
        }
    )
    delivery = obj(
        {
            "id": {"type": "string", "description": "The webhook-id header (the same on every retry)"},
            "type": {"type": "string", "enum": [*webhooks.EVENT_TYPES, webhooks.TEST_EVENT]},
            "status": {"type": "string", "enum": [webhooks.PENDING, webhooks.SUCCEEDED, webhooks.FAILED]},
            "attempts": {"type": "integer", "minimum": 0},
            "nextAttemptAt": nullable(TIMESTAMP),
            "lastStatusCode": nullable({"type": "integer"}),
            "lastError": nullable({"type": "string"}),
            "createdAt": TIMESTAMP,
            "completedAt": nullable(TIMESTAMP),
            "attemptLog": {"type": "array", "items": attempt},
        }
    )
    endpoint = obj(endpoint_fields)
    with_secret = obj({**endpoint_fields, "secret": secret})
    detail = obj({**endpoint_fields, "deliveries": {"type": "array", "items": delivery}})
    writable: dict[str, Any] = {
        "url": {"type": "string", "format": "uri", "maxLength": webhooks.MAX_URL},
        "events": {"type": "array", "items": event, "minItems": 1},
        "description": nullable({"type": "string", "maxLength": webhooks.MAX_DESCRIPTION}),
        "creditsLowThreshold": nullable({"type": "integer", "minimum": 0, "maximum": 1_000_000_000}),
    }
    not_found = ("webhook_not_found",)
    return {
        "/webhooks": {
            "post": operation(
                "Create a webhook endpoint (dxgl extension; the secret is shown only here)",
                scope="webhooks:write",
                ok={"201": json_ok(data_envelope(with_secret), "Endpoint created")},
                errors=("invalid_url",),
                body=json_body(obj(writable, required=("url", "events"))),
                idempotent=True,
            ),
            "get": operation(
                "List the account's webhook endpoints (dxgl extension)",
                scope="webhooks:read",
                ok={"200": json_ok(data_envelope({"type": "array", "items": endpoint}))},
            ),
        },
        "/webhooks/{id}": {
            "parameters": [ID_PARAM],
            "get": operation(
                "Get a webhook endpoint with its recent deliveries and their attempts (dxgl extension)",
                scope="webhooks:read",
                ok={"200": json_ok(data_envelope(detail))},
                errors=not_found,
            ),
            "patch": operation(
                "Change a webhook endpoint; enabled: true turns a disabled one back on (dxgl extension)",
                scope="webhooks:write",
                ok={"200": json_ok(data_envelope(endpoint))},
                errors=(*not_found, "invalid_url"),
                body=json_body(obj({**writable, "enabled": {"type": "boolean"}}, required=())),
            ),
            "delete": operation(
                "Delete a webhook endpoint and its delivery log (dxgl extension)",
                scope="webhooks:write",
                ok={"200": json_ok(data_envelope(ref("Deleted")))},
                errors=not_found,
            ),
        },
        "/webhooks/{id}/rotate-secret": {
            "parameters": [ID_PARAM],
            "post": operation(
                "A new signing secret (shown only here); the old one also signs for 24 h (dxgl extension)",
                scope="webhooks:write",
                ok={"200": json_ok(data_envelope(with_secret))},
                errors=not_found,
            ),
        },
        "/webhooks/{id}/test": {
            "parameters": [ID_PARAM],
            "post": operation(
                "Queue a webhook.test event to this endpoint (dxgl extension)",
                scope="webhooks:write",
                ok={"202": json_ok(data_envelope(delivery), "Test event queued")},
                errors=not_found,
            ),
        },
    }
