"""``GET /v1/openapi.json``: the OpenAPI 3.1 document of every /v1 endpoint of the public API.

Built once, at import, from small helpers: each operation names its scope, its body, its success
shape and the error codes it can return; the helpers turn those into responses whose error schema
pins ``code`` to exactly those codes (so a conformance run catches an undocumented code as well as
an undocumented status). Statuses come from ``dxgl.contract.ErrorCode``; the renderSettings schema
is derived from ``dxgl.contract.SETTING_FIELDS`` (see ``openapi_parts._setting_schema``). OpenAPI 3.1 is
used because it lets a bearer security requirement list the token scopes an operation needs.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from dxgl.contract import MAX_BATCH, OverlayLayer, Scope
from dxgl.rest import webhooks
from dxgl.rest.openapi_parts import (
    ALIGNMENT,
    ALWAYS_CODES,
    AUTH_CODES,
    ID,
    ID_PARAM,
    IDEMPOTENCY_PARAM,
    JSON,
    JSON_BODY_CODES,
    LAYER,
    PAGE_PARAMS,
    RANGE_PARAM,
    RENDER_STATUS,
    Schema,
    component_schemas,
    data_envelope,
    error_responses,
    file_ok,
    json_body,
    json_ok,
    list_envelope,
    multipart_body,
    nullable,
    obj,
    query,
    ref,
)
from dxgl.services.models import MAX_SEARCH_LEN


def operation(
    summary: str,
    *,
    scope: str | None,
    ok: dict[str, Schema],
    errors: tuple[str, ...] = (),
    params: list[Schema] | None = None,
    body: Schema | None = None,
    idempotent: bool = False,
) -> Schema:
    """One operation; ``scope=None`` means no authentication. ``idempotent``: a creating POST that
    takes ``Idempotency-Key`` (docs/api.md, "Idempotent requests")."""
    codes = (
        *(AUTH_CODES if scope else ()),
        *(JSON_BODY_CODES if body and JSON in body["content"] else ()),
        *errors,
        *(("invalid_request", "idempotency_conflict") if idempotent else ()),
        *ALWAYS_CODES,
    )
    if idempotent:
        params = [*(params or []), IDEMPOTENCY_PARAM]
    op: Schema = {"summary": summary, "responses": {**ok, **error_responses(codes)}}
    op["security"] = [{"bearerAuth": [scope]}] if scope else []
    if params:
        op["parameters"] = params
    if body:
        op["requestBody"] = body
    return op


# --- the document -------------------------------------------------------------------------------

UPLOAD_ERRORS = (
    "no_file",
    "invalid_format",
    "invalid_model",
    "invalid_settings",
    "file_too_large",
    "invalid_request",
    "no_credits",
    "upload_limit",
    "unsupported_extension",
)


BATCH_RENDERS: Schema = {
    "type": "array",
    "minItems": 1,
    "maxItems": MAX_BATCH,
    "items": obj({"modelId": ID, "renderSettings": ref("RenderSettings")}, required=("modelId",)),
}


def paths() -> dict[str, dict[str, Schema]]:
    created = {"201": json_ok(data_envelope(ref("UploadCreated")), "Model stored and its first render queued")}
    detail = {"200": json_ok(data_envelope(ref("ModelDetail")))}
    render_ok = {"200": json_ok(data_envelope(ref("Render")))}
    deleted = {"200": json_ok(data_envelope(ref("Deleted")))}
    model_404 = ("model_not_found",)
    render_404 = ("render_not_found",)
    return {
        "/models": {
            "post": operation(
                "Upload a model (GLB, glTF, USDZ, USDA, USDC, STL or PLY; or a ZIP of one model: OBJ+MTL+textures, "
                "glTF+files, STL, PLY or USD layers+textures)",
                scope="models:write",
                ok=created,
                errors=UPLOAD_ERRORS,
                idempotent=True,
                body=multipart_body(
                    {"file": {"type": "string", "format": "binary"}, "renderSettings": ref("RenderSettings")},
                    json_fields=("renderSettings",),
                ),
            ),
            "get": operation(
                "List models",
                scope="models:read",
                ok={"200": json_ok(list_envelope(ref("Model")))},
                errors=("invalid_request",),
                params=[
                    *PAGE_PARAMS,
                    query("tags", {"type": "string"}, "Comma-separated tags (OR filter)"),
                    query("archived", {"type": "boolean", "default": False}, "List only archived models"),
                    query(
                        "search",
                        {"type": "string", "maxLength": MAX_SEARCH_LEN},
                        "dxgl extension: title, SKU or original file name contains this (case-insensitive)",
                    ),
                ],
            ),
        },
        "/models/ingest": {
            "post": operation(
                "Ingest a model from a URL (GLB/glTF)",
                scope="models:write",
                ok=created,
                errors=(*UPLOAD_ERRORS, "url_required", "invalid_url", "timeout"),
                idempotent=True,
                body=json_body(
                    obj(
                        {"url": {"type": "string", "format": "uri"}, "renderSettings": ref("RenderSettings")},
                        required=("url",),
                    )
                ),
            ),
        },
        "/models/check-hash": {
            "post": operation(
                "Dedup pre-flight: is a file with this SHA-256 already uploaded?",
                scope="models:read",
                ok={"200": json_ok(data_envelope(obj({"exists": {"type": "boolean"}, "modelId": nullable(ID)})))},
                errors=("sha256_required",),
                body=json_body(obj({"sha256": {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"}})),
            ),
        },
        "/models/{id}": {
            "parameters": [ID_PARAM],
            "get": operation("Get a model with all its renders", scope="models:read", ok=detail, errors=model_404),
            "patch": operation(
                "Update title, sku and tags (only fields given change)",
                scope="models:write",
                ok=detail,
                errors=model_404,
                body=json_body(
                    obj(
                        {
                            "title": nullable({"type": "string", "maxLength": 255}),
                            "sku": nullable({"type": "string", "maxLength": 255}),
                            "tags": {
                                "type": "array",
                                "maxItems": 20,
                                "items": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "\\S"},
                            },
                        },
                        required=(),
                    )
                ),
            ),
            "delete": operation(
                "Soft-delete a model (its renders stay)", scope="models:write", ok=deleted, errors=model_404
            ),
        },
        "/models/{id}/archive": {
            "parameters": [ID_PARAM],
            "patch": operation("Archive a model", scope="models:write", ok=detail, errors=model_404),
        },
        "/models/{id}/unarchive": {
            "parameters": [ID_PARAM],
            "patch": operation("Restore an archived model", scope="models:write", ok=detail, errors=model_404),
        },
        "/models/{id}/file": {
            "parameters": [ID_PARAM],
            "get": operation(
                "Download the stored GLB",
                scope="models:read",
                ok=file_ok(("model/gltf-binary",), "The GLB, Content-Disposition: attachment", ranged=True),
                errors=(*model_404, "file_not_found", "range_not_satisfiable", "invalid_request"),
                params=[RANGE_PARAM],
            ),
        },
        "/models/{id}/view.glb": {
            "parameters": [ID_PARAM],
            "get": operation(
                "Download the GLB renders load (dxgl extension: the decoded copy, for 3D viewers)",
                scope="models:read",
                ok=file_ok(("model/gltf-binary",), "The decoded GLB, shown inline", ranged=True),
                errors=(*model_404, "file_not_found", "range_not_satisfiable", "invalid_request"),
                params=[RANGE_PARAM],
            ),
        },
        "/renders": {
            "post": operation(
                "Create a render",
                scope="renders:write",
                ok={"201": json_ok(data_envelope(ref("RenderCreated")))},
                idempotent=True,
                errors=("model_id_required", "invalid_settings", "no_credits", *model_404),
                body=json_body(obj({"modelId": ID, "renderSettings": ref("RenderSettings")}, required=("modelId",))),
            ),
            "get": operation(
                "List renders",
                scope="renders:read",
                ok={"200": json_ok(list_envelope(ref("Render")))},
                errors=("invalid_request",),
                params=[
                    query("model", {"type": "string"}, "Filter by model id"),
                    query("status", RENDER_STATUS, "Filter by status"),
                    query(
                        "systemPreview",
                        {"type": "boolean"},
                        "false: leave the free system previews out; true: only them (absent: all, flagged)",
                    ),
                    *PAGE_PARAMS,
                ],
            ),
        },
        "/renders/batch": {
            "post": operation(
                "Create up to 100 renders, charged all or none",
                scope="renders:write",
                ok={"201": json_ok(data_envelope({"type": "array", "items": ref("BatchItem")}))},
                idempotent=True,
                errors=(
                    "renders_required",
                    "too_many",
                    "model_id_required",
                    "invalid_settings",
                    "no_credits",
                    *model_404,
                ),
                body=json_body(obj({"renders": BATCH_RENDERS})),
            ),
        },
        "/quote": {
            "post": operation(
                "What creating a render (modelId, renderSettings) or a batch (renders) would charge; nothing is "
                "created (dxgl extension)",
                scope="renders:read",
                ok={"200": json_ok(data_envelope(ref("Quote")))},
                errors=(
                    "renders_required",
                    "too_many",
                    "model_id_required",
                    "invalid_settings",
                    *model_404,
                ),
                body=json_body(
                    {
                        "anyOf": [
                            obj({"modelId": ID, "renderSettings": ref("RenderSettings")}, required=("modelId",)),
                            obj({"renders": BATCH_RENDERS}),
                        ]
                    }
                ),
            ),
        },
        "/renders/{id}": {
            "parameters": [ID_PARAM],
            "get": operation("Get a render", scope="renders:read", ok=render_ok, errors=render_404),
            "delete": operation("Delete a render and its files", scope="renders:write", ok=deleted, errors=render_404),
        },
        "/renders/{id}/dismiss": {
            "parameters": [ID_PARAM],
            "patch": operation(
                "Dismiss an errored render (error -> failed)",
                scope="renders:write",
                ok=render_ok,
                errors=(*render_404, "invalid_state"),
            ),
        },
        "/renders/{id}/video": {
            "parameters": [ID_PARAM],
            "get": operation(
                "Download the video (Range supported)",
                scope="renders:read",
                ok=file_ok(("video/mp4", "video/quicktime"), "The video", ranged=True),
                errors=(*render_404, "video_not_found", "range_not_satisfiable", "invalid_request"),
                params=[
                    query("quality", {"type": "string", "enum": ["web"]}, "web: the web-optimised MP4"),
                    RANGE_PARAM,
                ],
            ),
        },
        "/renders/{id}/poster": {
            "parameters": [ID_PARAM],
            "get": operation(
                "Download the poster PNG (small by default)",
                scope="renders:read",
                ok=file_ok(("image/png",), "The poster"),
                errors=(*render_404, "poster_not_found", "invalid_request"),
                params=[query("quality", {"type": "string", "enum": ["full"]}, "full: native resolution")],
            ),
        },
        "/renders/{id}/thumb": {
            "parameters": [ID_PARAM],
            "get": operation(
                "Download the quarter-size MP4 thumbnail (Range supported)",
                scope="renders:read",
                ok=file_ok(("video/mp4",), "The thumbnail video", ranged=True),
                errors=(*render_404, "thumb_not_found", "range_not_satisfiable"),
                params=[RANGE_PARAM],
            ),
        },
        "/renders/{id}/bundle": {
            "parameters": [ID_PARAM],
            "get": operation(
                "Download every asset as one streamed ZIP",
                scope="renders:read",
                ok=file_ok(("application/zip",), "video, web.mp4, poster.png, thumb.mp4; Cache-Control: immutable"),
                errors=(*render_404, "video_not_found"),
            ),
        },
        "/overlays": {
            "post": operation(
                "Upload an overlay image (PNG, JPEG, WebP; max 10 MB), or with layer environment (dxgl "
                "extension) a Radiance .hdr / OpenEXR .exr equirectangular image (max 100 MB, 8192x4096)",
                scope="overlays:write",
                ok={"200": json_ok(data_envelope(ref("Overlay")))},
                idempotent=True,
                errors=("no_file", "invalid_format", "file_too_large", "invalid_request"),
                body=multipart_body(
                    {
                        "file": {"type": "string", "format": "binary"},
                        "layer": LAYER,
                        "name": {"type": "string", "maxLength": 100},
                        "description": {"type": "string", "maxLength": 500},
                        "alignment": ALIGNMENT,
                    }
                ),
            ),
            "get": operation(
                "List your overlays and the published system overlays",
                scope="overlays:read",
                ok={
                    "200": json_ok(
                        obj(
                            {"data": {"type": "array", "items": ref("Overlay")}, "meta": ref("Meta")},
                            required=("data",),
                        )
                    )
                },
                errors=("invalid_request",),
                params=[query("layer", {"type": "string", "enum": [layer.value for layer in OverlayLayer]})],
            ),
        },
        "/overlays/{id}": {
            "parameters": [ID_PARAM],
            "delete": operation(
                "Delete an overlay you own", scope="overlays:write", ok=deleted, errors=("overlay_not_found",)
            ),
        },
        "/overlays/{id}/image": {
            "parameters": [ID_PARAM],
            "get": operation(
                "An overlay's image (dxgl extension): your own or a system overlay",
                scope="overlays:read",
                ok=file_ok(
                    ("image/png", "image/jpeg", "image/webp", "image/vnd.radiance", "image/x-exr"),
                    "The image as uploaded",
                    ranged=True,
                ),
                errors=("overlay_not_found", "range_not_satisfiable", "invalid_request"),
                params=[RANGE_PARAM],
            ),
        },
        "/account": {
            "get": operation(
                "The account and its credit balance",
                scope="account:read",
                ok={"200": json_ok(data_envelope(ref("Account")))},
            ),
        },
        "/health": {
            "get": operation(
                "Database and queue reachability, queue depth, workers seen (no authentication)",
                scope=None,
                ok={"200": json_ok(data_envelope(ref("Health")))},
                errors=("service_unavailable",),
            ),
        },
        "/openapi.json": {
            "get": operation("This document", scope=None, ok={"200": json_ok({"type": "object"})}),
        },
    }


def build_document() -> Schema:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "DXGL Public API",
            "version": "1.0.0",
            "description": "3D models to product videos. Every error is the envelope "
            '{"error": {"code", "message", "status"}}; see docs/api.md.',
        },
        "servers": [{"url": "/v1"}],
        "security": [{"bearerAuth": []}],
        "paths": {**paths(), **webhooks.openapi_paths(operation)},
        "components": {
            "schemas": component_schemas(),
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "dxgl_sk_ + 46 base62 characters",
                    "description": "API token; an operation lists the scope it needs. Scopes: " + ", ".join(Scope),
                }
            },
        },
    }


DOCUMENT: Schema = build_document()


async def openapi_json(request: Request) -> Response:
    return JSONResponse(DOCUMENT)


routes: list[BaseRoute] = [Route("/openapi.json", openapi_json, methods=["GET"])]
