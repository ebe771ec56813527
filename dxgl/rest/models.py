"""/v1/models endpoints: parse the request, call dxgl.services.models, write the envelope."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dxgl.contract import ErrorCode
from dxgl.errors import DxglError
from dxgl.rest.http import (
    authed,
    idempotency_key,
    json_object,
    ok,
    operation_of,
    page_of,
    paged,
    read_body,
    run_idempotent,
    run_upload_once,
    runtime,
    with_limit_headers,
    writer_caller,
)
from dxgl.rest.multipart import read_multipart
from dxgl.rest.serializers import model_detail_json, model_json
from dxgl.services import idempotency, models
from dxgl.services.auth import Caller
from dxgl.services.rate_limit import Decision
from dxgl.tables import Model3D


async def _writer(request: Request) -> tuple[Caller, Decision | None]:
    """Authenticate (a short transaction of its own: uploads and URL ingest then stream and parse
    for a long time), the rate limits (the uploads bucket too) and the scope, before the body."""
    caller, decision = await writer_caller(request, upload=True)
    models.authorize_upload(caller)
    return caller, decision


async def upload_model(request: Request) -> Response:
    """POST /v1/models: authenticate first, then stream the body to storage. With an
    Idempotency-Key the request is the file's SHA-256 (and name) and the other fields."""
    rt = runtime(request)
    key = idempotency_key(request)
    caller, decision = await _writer(request)
    form = await read_multipart(
        request, rt.storage, limit=rt.settings.upload_limit_bytes, idle_timeout_s=rt.settings.body_timeout_seconds
    )
    upload = form.file
    if upload is None:
        raise DxglError(ErrorCode.NO_FILE, "No file in upload request: send it in a multipart field named 'file'")

    async def work(session: AsyncSession) -> Response:
        result = await models.upload_model(
            session,
            caller,
            intake=models.ModelIntake.of(rt.storage, rt.settings),
            upload=upload,
            raw_settings=form.fields.get("renderSettings"),
        )
        return ok(_upload_json(result), status=201)

    return await run_upload_once(request, caller, key, upload, form.fields, work, decision)


async def ingest_model(request: Request) -> Response:
    """POST /v1/models/ingest {"url", "renderSettings"}."""
    key = idempotency_key(request)
    caller, decision = await _writer(request)
    raw = await read_body(request)
    body = await json_object(request)
    rt = runtime(request)

    async def work(session: AsyncSession) -> Response:
        result = await models.ingest_model(
            session,
            caller,
            intake=models.ModelIntake.of(rt.storage, rt.settings),
            url=body.get("url"),
            raw_settings=body.get("renderSettings"),
        )
        return ok(_upload_json(result), status=201)

    fingerprint = idempotency.json_fingerprint(operation_of(request), raw)
    return with_limit_headers(await run_idempotent(request, caller, key, fingerprint, work), decision)


def _upload_json(result: models.UploadResult) -> dict:
    data: dict = {"modelId": result.model.id, "renderId": result.render.id}
    if result.duplicate:
        data["duplicate"] = True
    return data


def _flag(request: Request, name: str) -> bool:
    value = request.query_params.get(name, "false").lower()
    if value not in ("true", "false", "1", "0"):
        raise DxglError(ErrorCode.INVALID_REQUEST, f"{name} must be true or false")
    return value in ("true", "1")


@authed
async def list_models(request: Request, session: AsyncSession, caller: Caller) -> Response:
    page = page_of(request)
    tags = [t for t in request.query_params.get("tags", "").split(",") if t.strip()]
    items, total = await models.list_models(
        session,
        caller,
        page=page,
        tags=tags,
        archived=_flag(request, "archived"),
        search=request.query_params.get("search"),
    )
    return paged([model_json(m) for m in items], total, page)


@authed
async def get_model(request: Request, session: AsyncSession, caller: Caller) -> Response:
    model = await models.get_model(session, caller, request.path_params["id"])
    return await _detail(session, caller, model)


async def _detail(session: AsyncSession, caller: Caller, model: Model3D) -> Response:
    renders = await models.renders_of_models(session, caller, [model.id])
    return ok(model_detail_json(model, renders[model.id]))


@authed
async def update_model(request: Request, session: AsyncSession, caller: Caller) -> Response:
    changes = await json_object(request)
    model = await models.update_model(session, caller, request.path_params["id"], changes=changes)
    return await _detail(session, caller, model)


@authed
async def archive_model(request: Request, session: AsyncSession, caller: Caller) -> Response:
    model = await models.set_archived(session, caller, request.path_params["id"], archived=True)
    return await _detail(session, caller, model)


@authed
async def unarchive_model(request: Request, session: AsyncSession, caller: Caller) -> Response:
    model = await models.set_archived(session, caller, request.path_params["id"], archived=False)
    return await _detail(session, caller, model)


@authed
async def delete_model(request: Request, session: AsyncSession, caller: Caller) -> Response:
    model = await models.delete_model(session, caller, request.path_params["id"])
    return ok({"id": model.id, "deleted": True})


@authed
async def check_hash(request: Request, session: AsyncSession, caller: Caller) -> Response:
    body = await json_object(request)
    model = await models.check_hash(session, caller, body.get("sha256"))
    return ok({"exists": model is not None, "modelId": model.id if model else None})


routes = [
    Route("/models", upload_model, methods=["POST"]),
    Route("/models", list_models, methods=["GET"]),
    Route("/models/check-hash", check_hash, methods=["POST"]),
    Route("/models/ingest", ingest_model, methods=["POST"]),
    Route("/models/{id}", get_model, methods=["GET"]),
    Route("/models/{id}", update_model, methods=["PATCH"]),
    Route("/models/{id}", delete_model, methods=["DELETE"]),
    Route("/models/{id}/archive", archive_model, methods=["PATCH"]),
    Route("/models/{id}/unarchive", unarchive_model, methods=["PATCH"]),
]
