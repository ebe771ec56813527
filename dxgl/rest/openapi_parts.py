"""Building blocks of the OpenAPI document (``dxgl.rest.openapi``): schema helpers, the component
schemas (the renderSettings schema is derived from ``dxgl.services.render_settings.FIELDS``), and the
response / parameter / body helpers the operations are made of."""

from __future__ import annotations

import inspect
from typing import Any

from dxgl.errors import ERROR_CODES
from dxgl.services import render_settings as rs
from dxgl.services.pagination import DEFAULT_LIMIT, MAX_LIMIT
from dxgl.services.renders import STATUSES

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
            '(effect or output "dataset"); bgAlign/fgAlign need bgImageId/fgImageId.'
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
        "Error": obj(
            {
                "error": obj(
                    {
                        "code": {"type": "string", "enum": sorted(ERROR_CODES)},
                        "message": {"type": "string"},
                        "status": {"type": "integer"},
                    }
                )
            }
        ),
        "Meta": obj(
            {
                "total": {"type": "integer", "minimum": 0},
                "offset": {"type": "integer", "minimum": 0},
                "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
            }
        ),
        "RenderSettings": render_settings_schema(),
        "Model": obj(MODEL_FIELDS),
        "ModelDetail": obj(
            {
                **MODEL_FIELDS,
                "warnings": {"type": "array", "items": {"type": "string"}},
                "renders": {
                    "type": "array",
                    "items": obj(
                        {
                            "id": ID,
                            "status": RENDER_STATUS,
                            "renderSettings": ref("RenderSettings"),
                            "createdAt": TIMESTAMP,
                            "updatedAt": TIMESTAMP,
                        }
                    ),
                },
            }
        ),
        "UploadCreated": obj(
            {"modelId": ID, "renderId": ID, "duplicate": {"type": "boolean", "const": True}},
            required=("modelId", "renderId"),
        ),
        "Render": obj(
            {
                "id": ID,
                "modelId": ID,
                "status": RENDER_STATUS,
                "renderSettings": ref("RenderSettings"),
                "fileSize": nullable({"type": "integer", "minimum": 0}),
                "errorMessage": nullable({"type": "string"}),
                "hasWebVariant": {"type": "boolean"},
                "createdAt": TIMESTAMP,
                "updatedAt": TIMESTAMP,
            }
        ),
        "RenderCreated": obj(
            {"id": ID, "modelId": ID, "status": RENDER_STATUS, "renderSettings": ref("RenderSettings")}
        ),
        "BatchItem": obj({"id": ID, "modelId": ID, "status": RENDER_STATUS}),
        "Deleted": obj({"id": ID, "deleted": {"type": "boolean", "const": True}}),
        "Account": obj(
            {
                "id": ID,
                "email": {"type": "string"},
                "credits": {"type": "integer", "minimum": 0, "description": "paidCredits + freeCredits"},
                "paidCredits": {"type": "integer", "minimum": 0},
                "freeCredits": {"type": "integer", "minimum": 0},
            }
        ),
        "Overlay": obj(
            {
                "id": ID,
                "layer": LAYER,
                "alignment": ALIGNMENT,
                "name": nullable({"type": "string"}),
                "description": nullable({"type": "string"}),
                "system": {"type": "boolean"},
            },
            required=("id", "layer", "alignment", "name"),
            closed=False,
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
        schema = obj(
            {
                "error": obj(
                    {
                        "code": {"type": "string", "enum": status_codes},
                        "message": {"type": "string"},
                        "status": {"type": "integer", "const": status},
                    }
                )
            }
        )
        described = "; ".join(f"`{c}`: {ERROR_CODES[c][1]}" for c in status_codes)
        response: Schema = {"description": described, "content": {JSON: {"schema": schema}}}
        if status == 416:
            response["headers"] = {
                "Content-Range": {"description": "bytes */N (N = file size)", "schema": {"type": "string"}}
            }
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


ID_PARAM = {
    "name": "id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[0-9A-Za-z]{1,32}$"},
}
PAGE_PARAMS = [
    query(
        "limit",
        {"type": "integer", "minimum": 1, "default": DEFAULT_LIMIT},
        f"Values above {MAX_LIMIT} are clamped to {MAX_LIMIT}",
    ),
    query("offset", {"type": "integer", "minimum": 0, "default": 0}),
]
RANGE_PARAM = {
    "name": "Range",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "example": "bytes=0-1023"},
}


def json_body(schema: Schema) -> Schema:
    return {"required": True, "content": {JSON: {"schema": schema}}}


def multipart_body(properties: dict[str, Schema], json_fields: tuple[str, ...] = ()) -> Schema:
    media: Schema = {"schema": obj(properties, required=("file",))}
    if json_fields:
        media["encoding"] = {name: {"contentType": JSON} for name in json_fields}
    return {"required": True, "content": {"multipart/form-data": media}}
