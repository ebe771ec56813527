"""``GET /v1/openapi.json``: the OpenAPI 3.1 document of every /v1 endpoint of the public API.

Built once, at import, from small helpers: each operation names its scope, its body, its success
shape and the error codes it can return; the helpers turn those into responses whose error schema
pins ``code`` to exactly those codes (so a conformance run catches an undocumented code as well as
an undocumented status). Statuses come from ``dxgl.errors.ERROR_CODES``; the renderSettings schema
is derived from ``dxgl.services.render_settings.FIELDS`` (see ``_setting_schema``). OpenAPI 3.1 is
used because it lets a bearer security requirement list the token scopes an operation needs.
"""

from __future__ import annotations

import inspect
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from dxgl.errors import ERROR_CODES
from dxgl.services import render_settings as rs
from dxgl.services.auth import SCOPES
from dxgl.services.pagination import DEFAULT_LIMIT, MAX_LIMIT
from dxgl.services.renders import MAX_BATCH, STATUSES

Schema = dict[str, Any]
JSON = "application/json"

# Codes every authenticated operation can answer, and every operation that reads a JSON body.
AUTH_CODES = ("unauthorized", "token_expired", "forbidden", "insufficient_scope")
JSON_BODY_CODES = ("invalid_json", "invalid_request")
ALWAYS_CODES = ("internal",)

# Endpoints of the API document that the lead is still building (overlays). The document describes them now;
# tests/api/test_openapi.py leaves an operation out of the conformance run while the app has no route for it.
PENDING_NOTE = "x-dxgl-pending"


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def obj(properties: dict[str, Schema], required: tuple[str, ...] | None = None, *, closed: bool = True) -> Schema:
    """An object schema; ``required`` defaults to every property."""
    schema: Schema = {
        "type": "object",
        "properties": properties,
        "required": list(properties if required is None else required),
    }
    if closed:
        schema["additionalProperties"] = False
    return schema


def data_envelope(schema: Schema) -> Schema:
    return obj({"data": schema})


def list_envelope(item: Schema) -> Schema:
    return obj({"data": {"type": "array", "items": item}, "meta": ref("Meta")})


# --- renderSettings, derived from the validators ----------------------------------------------

def _setting_schema(check: Any) -> Schema:
    """The JSON schema of one FIELDS validator, read from the factory that made it and its bound
    values (options / low / high), so the document cannot drift from the validation rules."""
    kind = check.__qualname__.split(".")[0]
    bound = inspect.getclosurevars(check)
    values = {**bound.nonlocals, **bound.globals}
    if kind == "_choice":
        return {"type": "string", "enum": list(values["options"])}
    if kind == "_integer":
        return {"type": "integer", "minimum": values["low"], "maximum": values["high"]}
    if kind == "_number":
        return {"type": "number", "minimum": values["low"], "maximum": values["high"]}
    if kind == "_boolean":
        return {"type": "boolean"}
    if kind == "_color":
        return {"type": "string", "pattern": values["_HEX_COLOR"].pattern}
    if kind == "_overlay_id":
        return {"type": "string", "pattern": "^[0-9A-Za-z]{1,64}$", "description": "An overlay id (GET /v1/overlays)"}
    raise ValueError(f"no OpenAPI schema for render setting validator kind {kind!r}")


def render_settings_schema() -> Schema:
    properties = {}
    for name, check in rs.FIELDS.items():
        schema = _setting_schema(check)
        if name in rs.BASE_DEFAULTS:
            schema["default"] = rs.BASE_DEFAULTS[name]
        properties[name] = schema
    return {
        "type": "object",
        "description": (
            "Every field is optional; defaults are filled in and stored. Strict types: unknown keys and "
            "wrong types are invalid_settings. datasetQuality/coverage apply only to dataset renders "
            "(effect or output \"dataset\"); bgAlign/fgAlign need bgImageId/fgImageId."
        ),
        "properties": properties,
        "additionalProperties": False,
    }


# --- component schemas --------------------------------------------------------------------------

TIMESTAMP: Schema = {"type": "string", "format": "date-time", "example": "2026-02-15T20:00:00.000Z"}
ID: Schema = {"type": "string", "example": "Ab3kF9x2qL1m"}
ALIGNMENT: Schema = {"type": "string", "enum": list(rs.ALIGNMENTS), "default": "top-left"}
LAYER: Schema = {"type": "string", "enum": ["background", "foreground"], "default": "background"}
MODEL_FIELDS: dict[str, Schema] = {
    "id": ID,
    "originalName": {"type": "string"},
    "title": nullable({"type": "string"}),
    "sku": nullable({"type": "string"}),
    "tags": {"type": "array", "items": {"type": "string"}},
    "fileSize": {"type": "integer", "minimum": 0},
    "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
    "createdAt": TIMESTAMP,
}
RENDER_STATUS: Schema = {"type": "string", "enum": list(STATUSES)}


def component_schemas() -> dict[str, Schema]:
    return {
        "Error": obj({"error": obj({
            "code": {"type": "string", "enum": sorted(ERROR_CODES)},
            "message": {"type": "string"},
            "status": {"type": "integer"},
        })}),
        "Meta": obj({
            "total": {"type": "integer", "minimum": 0},
            "offset": {"type": "integer", "minimum": 0},
            "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
        }),
        "RenderSettings": render_settings_schema(),
        "Model": obj(MODEL_FIELDS),
        "ModelDetail": obj({**MODEL_FIELDS, "warnings": {"type": "array", "items": {"type": "string"}}, "renders": {"type": "array", "items": obj({
            "id": ID, "status": RENDER_STATUS, "renderSettings": ref("RenderSettings"),
            "createdAt": TIMESTAMP, "updatedAt": TIMESTAMP,
        })}}),
        "UploadCreated": obj(
            {"modelId": ID, "renderId": ID, "duplicate": {"type": "boolean", "const": True}},
            required=("modelId", "renderId"),
        ),
        "Render": obj({
            "id": ID, "modelId": ID, "status": RENDER_STATUS, "renderSettings": ref("RenderSettings"),
            "fileSize": nullable({"type": "integer", "minimum": 0}),
            "errorMessage": nullable({"type": "string"}),
            "hasWebVariant": {"type": "boolean"},
            "createdAt": TIMESTAMP, "updatedAt": TIMESTAMP,
        }),
        "RenderCreated": obj({"id": ID, "modelId": ID, "status": RENDER_STATUS, "renderSettings": ref("RenderSettings")}),
        "BatchItem": obj({"id": ID, "modelId": ID, "status": RENDER_STATUS}),
        "Deleted": obj({"id": ID, "deleted": {"type": "boolean", "const": True}}),
        "Account": obj({
            "id": ID, "email": {"type": "string"},
            "credits": {"type": "integer", "minimum": 0, "description": "paidCredits + freeCredits"},
            "paidCredits": {"type": "integer", "minimum": 0},
            "freeCredits": {"type": "integer", "minimum": 0},
        }),
        "Overlay": obj(
            {"id": ID, "layer": LAYER, "alignment": ALIGNMENT, "name": nullable({"type": "string"}),
             "description": nullable({"type": "string"}), "system": {"type": "boolean"}},
            required=("id", "layer", "alignment", "name"), closed=False,
        ),
        "Health": obj({"status": {"type": "string", "enum": ["ok"]}, "database": {"type": "string", "enum": ["ok"]}}),
    }


# --- responses ----------------------------------------------------------------------------------

def error_responses(codes: tuple[str, ...]) -> dict[str, Schema]:
    """One response per status, each pinning ``code`` to the codes of this operation with that status."""
    by_status: dict[int, list[str]] = {}
    for code in dict.fromkeys(codes):
        by_status.setdefault(ERROR_CODES[code][0], []).append(code)
    responses = {}
    for status, status_codes in sorted(by_status.items()):
        schema = obj({"error": obj({
            "code": {"type": "string", "enum": status_codes},
            "message": {"type": "string"},
            "status": {"type": "integer", "const": status},
        })})
        described = "; ".join(f"`{c}`: {ERROR_CODES[c][1]}" for c in status_codes)
        response: Schema = {"description": described, "content": {JSON: {"schema": schema}}}
        if status == 416:
            response["headers"] = {"Content-Range": {"description": "bytes */N (N = file size)", "schema": {"type": "string"}}}
        responses[str(status)] = response
    return responses


def json_ok(schema: Schema, description: str = "OK") -> Schema:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def file_ok(media_types: tuple[str, ...], description: str, *, ranged: bool = False) -> dict[str, Schema]:
    content = {m: {"schema": {"type": "string", "format": "binary"}} for m in media_types}
    responses = {"200": {"description": description, "content": content}}
    if ranged:
        responses["206"] = {
            "description": "The requested byte range (Range: bytes=start-end)",
            "headers": {"Content-Range": {"schema": {"type": "string"}, "description": "bytes start-end/N"}},
            "content": content,
        }
    return responses


# --- parameters and bodies ----------------------------------------------------------------------

def query(name: str, schema: Schema, description: str = "") -> Schema:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


ID_PARAM = {"name": "id", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[0-9A-Za-z]{1,32}$"}}
PAGE_PARAMS = [
    query("limit", {"type": "integer", "minimum": 1, "default": DEFAULT_LIMIT}, f"Values above {MAX_LIMIT} are clamped to {MAX_LIMIT}"),
    query("offset", {"type": "integer", "minimum": 0, "default": 0}),
]
RANGE_PARAM = {"name": "Range", "in": "header", "required": False, "schema": {"type": "string", "example": "bytes=0-1023"}}


def json_body(schema: Schema) -> Schema:
    return {"required": True, "content": {JSON: {"schema": schema}}}


def multipart_body(properties: dict[str, Schema], json_fields: tuple[str, ...] = ()) -> Schema:
    media: Schema = {"schema": obj(properties, required=("file",))}
    if json_fields:
        media["encoding"] = {name: {"contentType": JSON} for name in json_fields}
    return {"required": True, "content": {"multipart/form-data": media}}


def operation(
    summary: str,
    *,
    scope: str | None,
    ok: dict[str, Schema],
    errors: tuple[str, ...] = (),
    params: list[Schema] | None = None,
    body: Schema | None = None,
    pending: bool = False,
) -> Schema:
    """One operation; ``scope=None`` means no authentication."""
    codes = (*(AUTH_CODES if scope else ()), *(JSON_BODY_CODES if body and JSON in body["content"] else ()), *errors, *ALWAYS_CODES)
    op: Schema = {"summary": summary, "responses": {**ok, **error_responses(codes)}}
    op["security"] = [{"bearerAuth": [scope]}] if scope else []
    if params:
        op["parameters"] = params
    if body:
        op["requestBody"] = body
    if pending:
        op[PENDING_NOTE] = True
    return op


# --- the document -------------------------------------------------------------------------------

UPLOAD_ERRORS = ("no_file", "invalid_format", "invalid_model", "invalid_settings", "file_too_large", "invalid_request",
                 "no_credits", "upload_limit")


def paths() -> dict[str, dict[str, Schema]]:
    created = {"201": json_ok(data_envelope(ref("UploadCreated")), "Model stored and its first render queued")}
    detail = {"200": json_ok(data_envelope(ref("ModelDetail")))}
    render_ok = {"200": json_ok(data_envelope(ref("Render")))}
    deleted = {"200": json_ok(data_envelope(ref("Deleted")))}
    model_404 = ("model_not_found",)
    render_404 = ("render_not_found",)
    return {
        "/models": {
            "post": operation("Upload a model (GLB, glTF or ZIP of OBJ+MTL+textures)", scope="models:write", ok=created,
                              errors=UPLOAD_ERRORS, body=multipart_body(
                                  {"file": {"type": "string", "format": "binary"}, "renderSettings": ref("RenderSettings")},
                                  json_fields=("renderSettings",))),
            "get": operation("List models", scope="models:read", ok={"200": json_ok(list_envelope(ref("Model")))},
                             errors=("invalid_request",), params=[*PAGE_PARAMS,
                                 query("tags", {"type": "string"}, "Comma-separated tags (OR filter)"),
                                 query("archived", {"type": "boolean", "default": False}, "List only archived models")]),
        },
        "/models/ingest": {
            "post": operation("Ingest a model from a URL (GLB/glTF)", scope="models:write", ok=created,
                              errors=(*UPLOAD_ERRORS, "url_required", "invalid_url", "timeout"), body=json_body(obj(
                                  {"url": {"type": "string", "format": "uri"}, "renderSettings": ref("RenderSettings")},
                                  required=("url",)))),
        },
        "/models/check-hash": {
            "post": operation("Dedup pre-flight: is a file with this SHA-256 already uploaded?", scope="models:read",
                              ok={"200": json_ok(data_envelope(obj({"exists": {"type": "boolean"}, "modelId": nullable(ID)})))},
                              errors=("sha256_required",),
                              body=json_body(obj({"sha256": {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"}}))),
        },
        "/models/{id}": {
            "parameters": [ID_PARAM],
            "get": operation("Get a model with all its renders", scope="models:read", ok=detail, errors=model_404),
            "patch": operation("Update title, sku and tags (only fields given change)", scope="models:write", ok=detail,
                               errors=model_404, body=json_body(obj({
                                   "title": nullable({"type": "string", "maxLength": 255}),
                                   "sku": nullable({"type": "string", "maxLength": 255}),
                                   "tags": {"type": "array", "maxItems": 20, "items": {
                                       "type": "string", "minLength": 1, "maxLength": 64, "pattern": "\\S"}},
                               }, required=()))),
            "delete": operation("Soft-delete a model (its renders stay)", scope="models:write", ok=deleted, errors=model_404),
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
            "get": operation("Download the stored GLB", scope="models:read",
                             ok=file_ok(("model/gltf-binary",), "The GLB, Content-Disposition: attachment", ranged=True),
                             errors=(*model_404, "file_not_found", "range_not_satisfiable", "invalid_request"),
                             params=[RANGE_PARAM]),
        },
        "/renders": {
            "post": operation("Create a render", scope="renders:write",
                              ok={"201": json_ok(data_envelope(ref("RenderCreated")))},
                              errors=("model_id_required", "invalid_settings", "no_credits", *model_404),
                              body=json_body(obj({"modelId": ID, "renderSettings": ref("RenderSettings")},
                                                 required=("modelId",)))),
            "get": operation("List renders", scope="renders:read", ok={"200": json_ok(list_envelope(ref("Render")))},
                             errors=("invalid_request",), params=[
                                 query("model", {"type": "string"}, "Filter by model id"),
                                 query("status", RENDER_STATUS, "Filter by status"), *PAGE_PARAMS]),
        },
        "/renders/batch": {
            "post": operation("Create up to 100 renders, charged all or none", scope="renders:write",
                              ok={"201": json_ok(data_envelope({"type": "array", "items": ref("BatchItem")}))},
                              errors=("renders_required", "too_many", "model_id_required", "invalid_settings",
                                      "no_credits", *model_404),
                              body=json_body(obj({"renders": {
                                  "type": "array", "minItems": 1, "maxItems": MAX_BATCH,
                                  "items": obj({"modelId": ID, "renderSettings": ref("RenderSettings")}, required=("modelId",)),
                              }}))),
        },
        "/renders/{id}": {
            "parameters": [ID_PARAM],
            "get": operation("Get a render", scope="renders:read", ok=render_ok, errors=render_404),
            "delete": operation("Delete a render and its files", scope="renders:write", ok=deleted, errors=render_404),
        },
        "/renders/{id}/dismiss": {
            "parameters": [ID_PARAM],
            "patch": operation("Dismiss an errored render (error -> failed)", scope="renders:write", ok=render_ok,
                               errors=(*render_404, "invalid_state")),
        },
        "/renders/{id}/video": {
            "parameters": [ID_PARAM],
            "get": operation("Download the video (Range supported)", scope="renders:read",
                             ok=file_ok(("video/mp4", "video/quicktime"), "The video", ranged=True),
                             errors=(*render_404, "video_not_found", "range_not_satisfiable", "invalid_request"),
                             params=[query("quality", {"type": "string", "enum": ["web"]}, "web: the web-optimised MP4"),
                                     RANGE_PARAM]),
        },
        "/renders/{id}/poster": {
            "parameters": [ID_PARAM],
            "get": operation("Download the poster PNG (small by default)", scope="renders:read",
                             ok=file_ok(("image/png",), "The poster"),
                             errors=(*render_404, "poster_not_found", "invalid_request"),
                             params=[query("quality", {"type": "string", "enum": ["full"]}, "full: native resolution")]),
        },
        "/renders/{id}/thumb": {
            "parameters": [ID_PARAM],
            "get": operation("Download the quarter-size MP4 thumbnail (Range supported)", scope="renders:read",
                             ok=file_ok(("video/mp4",), "The thumbnail video", ranged=True),
                             errors=(*render_404, "thumb_not_found", "range_not_satisfiable"), params=[RANGE_PARAM]),
        },
        "/renders/{id}/bundle": {
            "parameters": [ID_PARAM],
            "get": operation("Download every asset as one streamed ZIP", scope="renders:read",
                             ok=file_ok(("application/zip",), "video, web.mp4, poster.png, thumb.mp4; Cache-Control: immutable"),
                             errors=(*render_404, "video_not_found")),
        },
        "/overlays": {
            "post": operation("Upload an overlay image (PNG, JPEG, WebP; max 10 MB)", scope="overlays:write",
                              ok={"200": json_ok(data_envelope(ref("Overlay")))},
                              errors=("no_file", "invalid_format", "file_too_large", "invalid_request"),
                              body=multipart_body({
                                  "file": {"type": "string", "format": "binary"}, "layer": LAYER,
                                  "name": {"type": "string", "maxLength": 100},
                                  "description": {"type": "string", "maxLength": 500}, "alignment": ALIGNMENT})),
            "get": operation("List your overlays and the published system overlays", scope="overlays:read",
                             ok={"200": json_ok(obj(
                                 {"data": {"type": "array", "items": ref("Overlay")}, "meta": ref("Meta")},
                                 required=("data",)))},
                             errors=("invalid_request",), params=[query("layer", {"type": "string", "enum": ["background", "foreground"]})]),
        },
        "/overlays/{id}": {
            "parameters": [ID_PARAM],
            "delete": operation("Delete an overlay you own", scope="overlays:write", ok=deleted,
                                errors=("overlay_not_found",)),
        },
        "/account": {
            "get": operation("The account and its credit balance", scope="account:read",
                             ok={"200": json_ok(data_envelope(ref("Account")))}),
        },
        "/health": {
            "get": operation("Database connectivity (no authentication)", scope=None,
                             ok={"200": json_ok(data_envelope(ref("Health")))}, errors=("service_unavailable",)),
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
                           "{\"error\": {\"code\", \"message\", \"status\"}}; see docs/api.md.",
        },
        "servers": [{"url": "/v1"}],
        "security": [{"bearerAuth": []}],
        "paths": paths(),
        "components": {
            "schemas": component_schemas(),
            "securitySchemes": {"bearerAuth": {
                "type": "http", "scheme": "bearer", "bearerFormat": "dxgl_sk_ + 46 base62 characters",
                "description": "API token; an operation lists the scope it needs. Scopes: " + ", ".join(SCOPES),
            }},
        },
    }


DOCUMENT: Schema = build_document()


async def openapi_json(request: Request) -> Response:
    return JSONResponse(DOCUMENT)


routes: list[BaseRoute] = [Route("/openapi.json", openapi_json, methods=["GET"])]
