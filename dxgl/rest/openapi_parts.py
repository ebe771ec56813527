"""Building blocks of the OpenAPI document (``dxgl.rest.openapi``): schema helpers, the component
schemas (the renderSettings schema is derived from ``dxgl.contract.SETTING_FIELDS``), and the
response / parameter / body helpers the operations are made of."""

from __future__ import annotations

from typing import Any

from dxgl.contract import (
    BASE_DEFAULTS,
    DEFAULT_ALIGNMENT,
    DEFAULT_PAGE_LIMIT,
    MAX_PAGE_LIMIT,
    SETTING_FIELDS,
    Alignment,
    Choice,
    EnvironmentRef,
    ErrorCode,
    Flag,
    HexColor,
    IntRange,
    NumberRange,
    OverlayLayer,
    RenderStatus,
    SettingKind,
)

Schema = dict[str, Any]
JSON = "application/json"

# Codes every authenticated operation can answer (rate limits apply per token), and every
# operation that reads a JSON body.
AUTH_CODES = ("unauthorized", "token_expired", "forbidden", "insufficient_scope", "rate_limited")
JSON_BODY_CODES = ("invalid_json", "invalid_request")
ALWAYS_CODES = ("internal",)


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


# --- renderSettings, derived from the contract's field table ---------------------------------


def _setting_schema(kind: SettingKind) -> Schema:
    """The JSON schema of one renderSettings field, from its kind in ``dxgl.contract.SETTING_FIELDS``
    (the table the validation rule is built from, so the document cannot drift from it)."""
    if isinstance(kind, Choice):
        return {"type": "string", "enum": list(kind.options)}
    if isinstance(kind, IntRange):
        return {"type": "integer", "minimum": kind.low, "maximum": kind.high}
    if isinstance(kind, NumberRange):
        return {"type": "number", "minimum": kind.low, "maximum": kind.high}
    if isinstance(kind, Flag):
        return {"type": "boolean"}
    if isinstance(kind, HexColor):
        return {"type": "string", "pattern": kind.pattern}
    if isinstance(kind, EnvironmentRef):
        return {
            "type": "string",
            "pattern": kind.pattern,
            "examples": list(kind.builtins),
            "description": "A built-in environment ("
            + ", ".join(kind.builtins)
            + ") or the id of an environment overlay (GET /v1/overlays?layer=environment)",
        }
    return {"type": "string", "pattern": kind.pattern, "description": "An overlay id (GET /v1/overlays)"}


def render_settings_schema() -> Schema:
    properties = {}
    for name, kind in SETTING_FIELDS.items():
        schema = _setting_schema(kind)
        if name in BASE_DEFAULTS:
            schema["default"] = BASE_DEFAULTS[name]
        properties[name] = schema
    return {
        "type": "object",
        "description": (
            "Every field is optional; defaults are filled in and stored. Strict types: unknown keys and "
            "wrong types are invalid_settings. datasetQuality/coverage/datasetNormals apply only to dataset "
            'renders (effect or output "dataset"), elevation only to videos (without it, the value chosen from '
            "the model's shape is stored); bgAlign/fgAlign need bgImageId/fgImageId; showEnvironment true "
            "cannot be combined with bgImageId."
        ),
        "properties": properties,
        "additionalProperties": False,
    }


# --- component schemas --------------------------------------------------------------------------

TIMESTAMP: Schema = {"type": "string", "format": "date-time", "example": "2026-02-15T20:00:00.000Z"}
ID: Schema = {"type": "string", "example": "Ab3kF9x2qL1m"}
ALIGNMENT: Schema = {"type": "string", "enum": [a.value for a in Alignment], "default": DEFAULT_ALIGNMENT.value}
LAYER: Schema = {
    "type": "string",
    "enum": [layer.value for layer in OverlayLayer],
    "default": OverlayLayer.BACKGROUND.value,
}
MODEL_FIELDS: dict[str, Schema] = {
    "id": ID,
    "originalName": {"type": "string"},
    "title": nullable({"type": "string"}),
    "sku": nullable({"type": "string"}),
    "tags": {"type": "array", "items": {"type": "string"}},
    "fileSize": {"type": "integer", "minimum": 0},
    "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
    "createdAt": TIMESTAMP,
    # dxgl's extensions (docs/api.md): the system preview could not load or draw the file.
    "broken": {"type": "boolean"},
    "brokenReason": nullable({"type": "string"}),
}
RENDER_STATUS: Schema = {"type": "string", "enum": [status.value for status in RenderStatus]}
# The inspection report of docs/ingest.md; open (closed=False): the ingest side may add fields.
INSPECTION: Schema = {
    "type": "object",
    "description": "What ingest found in the file (docs/ingest.md); null for models stored before reports",
    "properties": {
        "triangles": {"type": "integer", "minimum": 0},
        "vertices": {"type": "integer", "minimum": 0},
        "meshes": {"type": "integer", "minimum": 0},
        "materials": {"type": "integer", "minimum": 0},
        "textures": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "width": {"type": "integer"},
                    "height": {"type": "integer"},
                    "format": {"type": "string"},
                },
            },
        },
        "extensionsUsed": {"type": "array", "items": {"type": "string"}},
        "extensionsRequired": {"type": "array", "items": {"type": "string"}},
        "sizeMeters": {"type": "array", "items": {"type": "number"}, "minItems": 3, "maxItems": 3},
        "hasUVs": {"type": "boolean"},
        "hasNormals": {"type": "boolean"},
        "hasVertexColors": {"type": "boolean"},
        "animationsIgnored": {"type": "integer", "minimum": 0},
        "warnings": {"type": "array", "items": {"type": "string"}},
    },
}


def component_schemas() -> dict[str, Schema]:
    return {
        "Error": obj(
            {
                "error": obj(
                    {
                        "code": {"type": "string", "enum": sorted(code.value for code in ErrorCode)},
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
                "limit": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_LIMIT},
            }
        ),
        "RenderSettings": render_settings_schema(),
        "Model": obj(MODEL_FIELDS),
        "ModelDetail": obj(
            {
                **MODEL_FIELDS,
                "warnings": {"type": "array", "items": {"type": "string"}},
                "inspection": nullable(INSPECTION),
                "renders": {
                    "type": "array",
                    "items": obj(
                        {
                            "id": ID,
                            "status": RENDER_STATUS,
                            "renderSettings": ref("RenderSettings"),
                            "isSystemPreview": {"type": "boolean"},
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
                "isSystemPreview": {"type": "boolean", "description": "The free system preview of an upload"},
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
        "Quote": obj(
            {
                "credits": {"type": "integer", "minimum": 0, "description": "The total price"},
                "items": {
                    "type": "array",
                    "items": obj(
                        {
                            "modelId": ID,
                            "credits": {"type": "integer", "minimum": 0},
                            "paidBy": {"type": "string", "enum": ["paid", "free"]},
                            "watermark": {"type": "boolean"},
                        }
                    ),
                },
                "balance": obj({"paid": {"type": "integer", "minimum": 0}, "free": {"type": "integer", "minimum": 0}}),
                "sufficient": {"type": "boolean", "description": "false: creating it would be no_credits"},
            }
        ),
        "Health": obj(
            {
                "status": {"type": "string", "enum": ["ok"]},
                "database": {"type": "string", "enum": ["ok"]},
                "queue": obj(
                    {
                        "kind": {"type": "string", "enum": ["embedded", "redis"]},
                        "depth": {"type": "integer", "minimum": 0},
                    }
                ),
                "workers": obj(
                    {
                        "seen": {"type": "boolean"},
                        "count": {"type": "integer", "minimum": 0},
                        "lastSeenSecondsAgo": nullable({"type": "number", "minimum": 0}),
                    }
                ),
            }
        ),
    }


# --- responses ----------------------------------------------------------------------------------


def error_responses(codes: tuple[str, ...]) -> dict[str, Schema]:
    """One response per status, each pinning ``code`` to the codes of this operation with that status."""
    by_status: dict[int, list[str]] = {}
    for code in dict.fromkeys(codes):
        by_status.setdefault(ErrorCode.of(code).status, []).append(code)
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
        described = "; ".join(f"`{c}`: {ErrorCode.of(c).default_message}" for c in status_codes)
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
        {"type": "integer", "minimum": 1, "default": DEFAULT_PAGE_LIMIT},
        f"Values above {MAX_PAGE_LIMIT} are clamped to {MAX_PAGE_LIMIT}",
    ),
    query("offset", {"type": "integer", "minimum": 0, "default": 0}),
]
IDEMPOTENCY_PARAM = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "dxgl extension: the same key with the same request within 24 h replays the first response "
    "(Idempotent-Replayed: true); with another request it is 409 idempotency_conflict. Per account.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
}

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
