"""/v1/overlays: upload (multipart), list (own + system), delete (own)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dxgl.contract import ErrorCode
from dxgl.errors import DxglError
from dxgl.rest.http import (
    authed,
    idempotency_key,
    ok,
    run_upload_once,
    runtime,
    writer_caller,
)
from dxgl.rest.multipart import read_multipart
from dxgl.services import overlays
from dxgl.services.auth import Caller
from dxgl.tables import Overlay
from dxgl.timeutil import iso


def overlay_created_json(overlay: Overlay) -> dict[str, Any]:
    return {"id": overlay.id, "layer": overlay.layer, "alignment": overlay.alignment, "name": overlay.name}


def overlay_json(overlay: Overlay) -> dict[str, Any]:
    return {
        **overlay_created_json(overlay),
        "description": overlay.description,
        "system": overlay.account_id is None,
        "width": overlay.width,
        "height": overlay.height,
        "createdAt": iso(overlay.created_at),
    }


async def upload_overlay(request: Request) -> Response:
    rt = runtime(request)
    key = idempotency_key(request)
    caller, decision = await writer_caller(request, upload=True)
    overlays.authorize_upload(caller)  # before the body is read
    # A layer sent before the file streams under its own limit (10 MB for background/foreground);
    # sent after it (or not at all), under the largest, and the service applies the layer's.
    form = await read_multipart(
        request,
        rt.storage,
        limit=lambda fields: overlays.upload_limit(fields.get("layer")),
        idle_timeout_s=rt.settings.body_timeout_seconds,
    )
    upload = form.file
    if upload is None:
        raise DxglError(
            ErrorCode.NO_FILE, "No file in upload request: send the image in a multipart field named 'file'"
        )

    async def work(session: AsyncSession) -> Response:
        overlay = await overlays.upload_overlay(
            session,
            caller,
            storage=rt.storage,
            upload=upload,
            layer=form.fields.get("layer"),
            name=form.fields.get("name"),
            description=form.fields.get("description"),
            alignment=form.fields.get("alignment"),
        )
        return ok(overlay_created_json(overlay))

    return await run_upload_once(request, caller, key, upload, form.fields, work, decision)


@authed
async def list_overlays(request: Request, session: AsyncSession, caller: Caller) -> Response:
    items = await overlays.list_overlays(session, caller, layer=request.query_params.get("layer"))
    return ok([overlay_json(o) for o in items])


@authed
async def delete_overlay(request: Request, session: AsyncSession, caller: Caller) -> Response:
    overlay = await overlays.delete_overlay(
        session, caller, request.path_params["id"], storage=runtime(request).storage
    )
    return ok({"id": overlay.id, "deleted": True})


routes = [
    Route("/overlays", upload_overlay, methods=["POST"]),
    Route("/overlays", list_overlays, methods=["GET"]),
    Route("/overlays/{id}", delete_overlay, methods=["DELETE"]),
]
