"""/v1/renders endpoints (create, batch, list, get, dismiss, delete) and /v1/quote (what creating
would charge). Creating takes an ``Idempotency-Key`` (``creating``)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dxgl.contract import ErrorCode
from dxgl.errors import DxglError
from dxgl.rest.http import authed, creating, json_object, ok, page_of, paged, runtime
from dxgl.rest.serializers import batch_item_json, render_created_json, render_json
from dxgl.services import quote, renders
from dxgl.services.auth import Caller


@creating
async def create_render(request: Request, session: AsyncSession, caller: Caller) -> Response:
    body = await json_object(request)
    render = await renders.create_render(
        session, caller, model_id=body.get("modelId"), raw_settings=body.get("renderSettings")
    )
    return ok(render_created_json(render), status=201)


@creating
async def create_batch(request: Request, session: AsyncSession, caller: Caller) -> Response:
    body = await json_object(request)
    created = await renders.create_batch(session, caller, items=body.get("renders"))
    return ok([batch_item_json(r) for r in created], status=201)


@authed
async def quote_renders(request: Request, session: AsyncSession, caller: Caller) -> Response:
    """dxgl's extension: the body of POST /v1/renders, or of /v1/renders/batch ("renders"); nothing
    is created."""
    body = await json_object(request)
    if "renders" in body:
        result = await quote.quote_batch(session, caller, items=body.get("renders"))
    else:
        result = await quote.quote_render(
            session, caller, model_id=body.get("modelId"), raw_settings=body.get("renderSettings")
        )
    return ok(result.json())


def _optional_flag(request: Request, name: str) -> bool | None:
    """A true/false query parameter; None when it is absent (or empty)."""
    value = request.query_params.get(name, "").lower()
    if value == "":
        return None
    if value not in ("true", "false", "1", "0"):
        raise DxglError(ErrorCode.INVALID_REQUEST, f"{name} must be true or false")
    return value in ("true", "1")


@authed
async def list_renders(request: Request, session: AsyncSession, caller: Caller) -> Response:
    page = page_of(request)
    items, total = await renders.list_renders(
        session,
        caller,
        page=page,
        model_id=request.query_params.get("model"),
        status=request.query_params.get("status"),
        # dxgl's extension: false leaves the free system previews out, true lists only them.
        system_preview=_optional_flag(request, "systemPreview"),
    )
    return paged([render_json(r) for r in items], total, page)


@authed
async def get_render(request: Request, session: AsyncSession, caller: Caller) -> Response:
    return ok(render_json(await renders.get_render(session, caller, request.path_params["id"])))


@authed
async def dismiss_render(request: Request, session: AsyncSession, caller: Caller) -> Response:
    return ok(render_json(await renders.dismiss_render(session, caller, request.path_params["id"])))


@authed
async def delete_render(request: Request, session: AsyncSession, caller: Caller) -> Response:
    render = await renders.delete_render(session, caller, request.path_params["id"], storage=runtime(request).storage)
    return ok({"id": render.id, "deleted": True})


routes = [
    Route("/renders", create_render, methods=["POST"]),
    Route("/renders", list_renders, methods=["GET"]),
    Route("/renders/batch", create_batch, methods=["POST"]),
    Route("/renders/{id}", get_render, methods=["GET"]),
    Route("/renders/{id}", delete_render, methods=["DELETE"]),
    Route("/renders/{id}/dismiss", dismiss_render, methods=["PATCH"]),
    Route("/quote", quote_renders, methods=["POST"]),
]
