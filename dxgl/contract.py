"""The vocabulary of the DXGL Public API, written once: qualities, effects and their parameters,
aspects, alignments, dataset tiers, render statuses and their transitions, error codes, scopes,
output file names and storage keys.

Standard library only. Services, the render library, jobs, REST and GraphQL import these values;
none of them declares its own copy. The *rules* built on this vocabulary (validating
``renderSettings``, charging credits, moving a render's state) live in ``dxgl.services``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

# --- qualities, aspects, sizes ------------------------------------------------------------------


class Quality(StrEnum):
    STANDARD = "standard"
    UHD_4K = "4k"
    PRO = "pro"


class Aspect(StrEnum):
    WIDE = "16:9"
    SQUARE = "1:1"
    TALL = "9:16"


class Codec(StrEnum):
    H264 = "h264"  # yuv420p MP4
    PRORES_4444 = "prores4444"  # yuva444p10le MOV with alpha


class OutputFile(StrEnum):
    """Files a render publishes; the names are also the bundle's member names."""

    VIDEO_MP4 = "video.mp4"
    VIDEO_MOV = "video.mov"
    WEB = "web.mp4"
    THUMB = "thumb.mp4"
    POSTER = "poster.png"
    POSTER_SMALL = "poster_small.png"
    DATASET_ARCHIVE = "dataset.zip"


@dataclass(frozen=True)
class QualityTier:
    """One video quality: the short side of its frames, the main video's codec and file, its price."""

    short_side: int
    codec: Codec
    main_video: OutputFile
    credits: int
    free_credits_may_pay: bool  # free credits pay only for standard (watermarked) videos


QUALITY_TIERS: Final[dict[Quality, QualityTier]] = {
    Quality.STANDARD: QualityTier(1080, Codec.H264, OutputFile.VIDEO_MP4, 1, True),
    Quality.UHD_4K: QualityTier(2160, Codec.H264, OutputFile.VIDEO_MP4, 4, False),
    Quality.PRO: QualityTier(2160, Codec.PRORES_4444, OutputFile.VIDEO_MOV, 16, False),
}

# Long side over short side of 16:9 and 9:16 frames; 1:1 and 9:16 keep the tier's short side
# (CLARIFICATIONS.md): standard 16:9 is 1920x1080, 9:16 is 1080x1920, 4k 1:1 is 2160x2160.
_WIDE_RATIO = (16, 9)


def output_size(quality: str, aspect: str) -> tuple[int, int]:
    """(width, height) in pixels of a video of this quality and aspect."""
    short = QUALITY_TIERS[Quality(quality)].short_side
    long = short * _WIDE_RATIO[0] // _WIDE_RATIO[1]
    return {Aspect.WIDE: (long, short), Aspect.SQUARE: (short, short), Aspect.TALL: (short, long)}[Aspect(aspect)]


def main_video_file(quality: str) -> OutputFile:
    """The main video of a render of this quality: ``video.mov`` for pro, ``video.mp4`` otherwise."""
    return QUALITY_TIERS[Quality(quality)].main_video


POSTER_FILES: Final = (OutputFile.POSTER, OutputFile.POSTER_SMALL)
FPS: Final = 30
POSTER_SMALL_LONG_SIDE: Final = 480  # poster_small.png: 480 px on the long side


def video_output_files(quality: str) -> tuple[OutputFile, ...]:
    """Every file a video render publishes, main video first."""
    return (main_video_file(quality), OutputFile.WEB, OutputFile.THUMB, *POSTER_FILES)


def bundle_members(quality: str) -> tuple[OutputFile, ...]:
    """The documented members of a video render's ``/bundle`` ZIP, in order."""
    return (main_video_file(quality), OutputFile.WEB, OutputFile.POSTER, OutputFile.THUMB)


DATASET_OUTPUT_FILES: Final = (OutputFile.DATASET_ARCHIVE, *POSTER_FILES)

MEDIA_TYPES: Final[dict[str, str]] = {
    ".mp4": "video/mp4",
    ".mov": "video/quicktime",
    ".png": "image/png",
    ".zip": "application/zip",
    ".glb": "model/gltf-binary",
}


def media_type_of(filename: str) -> str:
    return MEDIA_TYPES[filename[filename.rfind(".") :]]


# --- effects and their parameters ---------------------------------------------------------------


class Effect(StrEnum):
    TURNTABLE = "turntable"
    HERO_SPIN = "hero-spin"
    SHOWCASE = "showcase"
    ZOOM_ORBIT = "zoom-orbit"
    REVEAL = "reveal"
    DATASET = "dataset"


class Output(StrEnum):
    VIDEO = "video"
    DATASET = "dataset"


@dataclass(frozen=True)
class NumberParam:
    """An effect parameter: a number from ``low`` to ``high``, ``default`` when not given."""

    name: str
    low: float
    high: float
    default: float


# Each effect's parameters with their defaults (the API document's effect table). A parameter shared
# by two effects (sweepAngle) has one range and a default per effect.
EFFECT_PARAMS: Final[dict[Effect, tuple[NumberParam, ...]]] = {
    Effect.TURNTABLE: (),
    Effect.HERO_SPIN: (NumberParam("sweepAngle", 10, 1080, 540), NumberParam("easeOutRatio", 0, 1, 0.6)),
    Effect.SHOWCASE: (NumberParam("amplitude", 5, 180, 60),),
    Effect.ZOOM_ORBIT: (NumberParam("zoomStart", 0.1, 3, 1.0), NumberParam("zoomEnd", 0.1, 3, 0.7)),
    Effect.REVEAL: (NumberParam("sweepAngle", 10, 1080, 180), NumberParam("scaleFrom", 0, 1, 0)),
    Effect.DATASET: (),
}
LOOPING_EFFECTS: Final = frozenset({Effect.TURNTABLE, Effect.SHOWCASE, Effect.ZOOM_ORBIT})


def effect_param_ranges() -> dict[str, tuple[float, float]]:
    """Every effect parameter name -> (low, high); a shared name has one range."""
    ranges: dict[str, tuple[float, float]] = {}
    for params in EFFECT_PARAMS.values():
        for param in params:
            known = ranges.setdefault(param.name, (param.low, param.high))
            assert known == (param.low, param.high), f"{param.name} has two ranges"
    return ranges


EFFECT_PARAM_NAMES: Final = tuple(effect_param_ranges())


def effect_defaults(effect: str) -> dict[str, float]:
    """The parameters ``effect`` uses, with their defaults."""
    return {p.name: p.default for p in EFFECT_PARAMS[Effect(effect)]}


# --- overlays and alignment ---------------------------------------------------------------------


class Alignment(StrEnum):
    TOP_LEFT = "top-left"
    TOP_CENTER = "top-center"
    TOP_RIGHT = "top-right"
    CENTER_LEFT = "center-left"
    CENTER = "center"
    CENTER_RIGHT = "center-right"
    BOTTOM_LEFT = "bottom-left"
    BOTTOM_CENTER = "bottom-center"
    BOTTOM_RIGHT = "bottom-right"


DEFAULT_ALIGNMENT: Final = Alignment.TOP_LEFT


class OverlayLayer(StrEnum):
    BACKGROUND = "background"
    FOREGROUND = "foreground"
    # Added by dxgl (docs/overlays.md): an equirectangular HDR image that lights the model
    # (renderSettings.environment), not a picture composited into the frame.
    ENVIRONMENT = "environment"


MAX_OVERLAY_BYTES: Final = 10 * 1024 * 1024  # background and foreground images (the contract's limit)
# Environment overlays: Radiance .hdr or OpenEXR .exr, equirectangular (width = 2 x height).
MAX_ENVIRONMENT_BYTES: Final = 100 * 1024 * 1024
MAX_ENVIRONMENT_WIDTH: Final = 8192
MAX_ENVIRONMENT_HEIGHT: Final = 4096


def max_overlay_bytes(layer: str | None) -> int:
    """The size limit of an overlay upload of ``layer``; ``None`` (not known yet, e.g. a form field
    still to come) is the largest, the layer's own limit applying once it is known."""
    if layer is None or layer == OverlayLayer.ENVIRONMENT:
        return MAX_ENVIRONMENT_BYTES
    return MAX_OVERLAY_BYTES


MAX_IMAGE_PIXELS: Final = 50_000_000  # overlays and every image a render reads
MAX_OVERLAY_NAME: Final = 100
MAX_OVERLAY_DESCRIPTION: Final = 500


@dataclass(frozen=True)
class OverlayRef:
    """A renderSettings field naming an overlay, its alignment field and the layer it must be."""

    image_field: str
    align_field: str
    layer: OverlayLayer


OVERLAY_REFS: Final = (
    OverlayRef("bgImageId", "bgAlign", OverlayLayer.BACKGROUND),
    OverlayRef("fgImageId", "fgAlign", OverlayLayer.FOREGROUND),
)

# --- the look: lighting environments, exposure and the camera's height ------------------------


class BuiltinEnvironment(StrEnum):
    """The lighting environments dxgl ships (docs/rendering.md, "Environments")."""

    STUDIO = "studio"  # the default: a softbox room after model-viewer's neutral environment
    SOFT = "soft"  # an even, overcast light box: low contrast, soft reflections
    CONTRAST = "contrast"  # one strong key softbox in a dark room: deep shadows, crisp highlights


DEFAULT_ENVIRONMENT: Final = BuiltinEnvironment.STUDIO


class DatasetNormals(StrEnum):
    """What a dataset's ``normals/`` images hold (docs/datasets.md)."""

    GEOMETRIC = "geometric"  # the interpolated vertex normal
    SHADING = "shading"  # the vertex normal bent by the material's normal map


# The camera's height angle without ``elevation``: upright products are filmed from just above,
# flat ones (low compared with their larger horizontal side) from higher up, so the poster shows
# their face rather than an edge. (height / larger horizontal side) below each bound -> that angle.
UPRIGHT_ELEVATION_DEG: Final = 12.0
FLAT_ELEVATION_STEPS: Final = ((1.0 / 6.0, 45.0), (1.0 / 3.0, 35.0))


def auto_elevation(width: float, height: float, depth: float) -> float:
    """The camera elevation in degrees dxgl chooses for a model whose bounding box is ``width`` (x)
    by ``height`` (y, up) by ``depth`` (z), in any one unit: 45 when the height is below a sixth of
    the larger horizontal side, 35 below a third, else 12."""
    side = max(width, depth)
    if side <= 0.0:
        return UPRIGHT_ELEVATION_DEG
    ratio = height / side
    for bound, angle in FLAT_ELEVATION_STEPS:
        if ratio < bound:
            return angle
    return UPRIGHT_ELEVATION_DEG


# --- glTF material extensions dxgl renders (render/gltf_materials.py reads them, ingest warns) ----

KHR_EMISSIVE_STRENGTH: Final = "KHR_materials_emissive_strength"
KHR_UNLIT: Final = "KHR_materials_unlit"
KHR_CLEARCOAT: Final = "KHR_materials_clearcoat"
KHR_SHEEN: Final = "KHR_materials_sheen"
KHR_SPECULAR: Final = "KHR_materials_specular"
KHR_IOR: Final = "KHR_materials_ior"
KHR_TRANSMISSION: Final = "KHR_materials_transmission"
KHR_VOLUME: Final = "KHR_materials_volume"
RENDERED_MATERIAL_EXTENSIONS: Final = frozenset(
    {KHR_EMISSIVE_STRENGTH, KHR_UNLIT, KHR_CLEARCOAT, KHR_SHEEN, KHR_SPECULAR, KHR_IOR, KHR_TRANSMISSION, KHR_VOLUME}
)


@dataclass(frozen=True)
class MaterialFactor:
    """One factor of a rendered material extension and its range in the extension's schema (the
    renderer clamps into it; ingest warns when a model's value is outside it)."""

    extension: str
    name: str  # the glTF property
    components: int  # 1 (a number) or 3 (linear RGB)
    low: float
    high: float  # math.inf: unbounded
    default: str  # as a warning names it
    low_exclusive: bool = False


MATERIAL_FACTORS: Final = (
    MaterialFactor(KHR_EMISSIVE_STRENGTH, "emissiveStrength", 1, 0.0, math.inf, "1"),
    MaterialFactor(KHR_CLEARCOAT, "clearcoatFactor", 1, 0.0, 1.0, "0"),
    MaterialFactor(KHR_CLEARCOAT, "clearcoatRoughnessFactor", 1, 0.0, 1.0, "0"),
    MaterialFactor(KHR_SHEEN, "sheenColorFactor", 3, 0.0, 1.0, "[0, 0, 0]"),
    MaterialFactor(KHR_SHEEN, "sheenRoughnessFactor", 1, 0.0, 1.0, "0"),
    MaterialFactor(KHR_SPECULAR, "specularFactor", 1, 0.0, 1.0, "1"),
    MaterialFactor(KHR_SPECULAR, "specularColorFactor", 3, 0.0, math.inf, "[1, 1, 1]"),  # may exceed 1
    MaterialFactor(KHR_TRANSMISSION, "transmissionFactor", 1, 0.0, 1.0, "0"),
    MaterialFactor(KHR_VOLUME, "thicknessFactor", 1, 0.0, math.inf, "0"),
    MaterialFactor(KHR_VOLUME, "attenuationDistance", 1, 0.0, math.inf, "infinity (no attenuation)", True),
    MaterialFactor(KHR_VOLUME, "attenuationColor", 3, 0.0, 1.0, "[1, 1, 1]"),
)


# --- datasets -----------------------------------------------------------------------------------


class DatasetQuality(StrEnum):
    Q100X800 = "100x800"
    Q196X1024 = "196x1024"
    Q400X2048 = "400x2048"


class Coverage(StrEnum):
    HEMISPHERE = "hemisphere"
    SPHERE = "sphere"


@dataclass(frozen=True)
class DatasetTier:
    views: int
    size: int  # square image side, pixels
    credits: int
    free_credits_may_pay: bool  # free credits pay for the smallest tier (no watermark)


DATASET_TIERS: Final[dict[DatasetQuality, DatasetTier]] = {
    DatasetQuality.Q100X800: DatasetTier(100, 800, 1, True),
    DatasetQuality.Q196X1024: DatasetTier(196, 1024, 4, False),
    DatasetQuality.Q400X2048: DatasetTier(400, 2048, 16, False),
}

# --- renderSettings: every field, its kind and its default --------------------------------------


@dataclass(frozen=True)
class Choice:
    options: tuple[str, ...]


@dataclass(frozen=True)
class IntRange:
    low: int
    high: int


@dataclass(frozen=True)
class NumberRange:
    low: float
    high: float


@dataclass(frozen=True)
class Flag:
    pass


@dataclass(frozen=True)
class HexColor:
    pattern: str = r"^#[0-9a-fA-F]{6}$"


@dataclass(frozen=True)
class OverlayId:
    pattern: str = r"^[0-9A-Za-z]{1,64}$"


@dataclass(frozen=True)
class EnvironmentRef(OverlayId):
    """A built-in environment's name (``builtins``) or the id of an ``environment`` overlay. A
    subclass of OverlayId: an id-shaped string wherever the kind is only shown (a built-in name
    is id-shaped too); the settings rule tells the two apart (a built-in name wins: generated
    overlay ids are 12 characters, no built-in name is)."""

    builtins: tuple[str, ...] = ()


SettingKind = Choice | IntRange | NumberRange | Flag | HexColor | OverlayId


def _choice(enum: type[StrEnum]) -> Choice:
    return Choice(tuple(member.value for member in enum))


SETTING_FIELDS: Final[dict[str, SettingKind]] = {
    "quality": _choice(Quality),
    "effect": _choice(Effect),
    "output": _choice(Output),
    **{name: NumberRange(low, high) for name, (low, high) in effect_param_ranges().items()},
    "aspect": _choice(Aspect),
    "bgColor": HexColor(),
    "length": IntRange(3, 15),
    "shadows": Flag(),
    "reflector": Flag(),
    "easing": Flag(),
    "rotateY": IntRange(-180, 180),
    "tiltX": IntRange(-90, 90),
    "datasetQuality": _choice(DatasetQuality),
    "coverage": _choice(Coverage),
    "bgImageId": OverlayId(),
    "bgAlign": _choice(Alignment),
    "fgImageId": OverlayId(),
    "fgAlign": _choice(Alignment),
    # The look (dxgl's additions, docs/api.md "The look"): lighting environment, its turn about
    # the vertical axis (degrees), exposure (EV), the environment as the background, the camera's
    # height angle (degrees; without it dxgl chooses by auto_elevation), and a dataset's normals.
    "environment": EnvironmentRef(builtins=tuple(e.value for e in BuiltinEnvironment)),
    "environmentRotation": NumberRange(-180, 180),
    "exposure": NumberRange(-3, 3),
    "showEnvironment": Flag(),
    "elevation": NumberRange(0, 60),
    "datasetNormals": _choice(DatasetNormals),
}

# Always present in stored settings.
BASE_DEFAULTS: Final[dict[str, object]] = {
    "quality": Quality.STANDARD.value,
    "effect": Effect.TURNTABLE.value,
    "aspect": Aspect.WIDE.value,
    "bgColor": "#ffffff",
    "length": 6,
    "shadows": True,
    "reflector": False,
    "easing": True,
    "rotateY": 0,
    "tiltX": 0,
    # dxgl's additions: every render records its look, so a later change of a default does not
    # change what a stored render means.
    "environment": DEFAULT_ENVIRONMENT.value,
    "environmentRotation": 0,
    "exposure": 0,
    "showEnvironment": False,
}
# Present only in a dataset's stored settings.
DATASET_DEFAULTS: Final[dict[str, object]] = {
    "datasetQuality": DatasetQuality.Q100X800.value,
    "coverage": Coverage.HEMISPHERE.value,
    "datasetNormals": DatasetNormals.GEOMETRIC.value,
}
# Video renders only (a dataset's views are a fixed lattice). Without it in the request, the
# render's stored settings get the value auto_elevation chose from the model's size.
VIDEO_ONLY_FIELDS: Final = ("elevation",)

# --- render statuses and their transitions ------------------------------------------------------


class RenderStatus(StrEnum):
    PENDING = "pending"
    POSTER_PROCESSING = "poster-processing"
    POSTER_DONE = "poster-done"
    VIDEO_PROCESSING = "video-processing"
    DONE = "done"
    ERROR = "error"
    FAILED = "failed"


# A worker holds a lease on a render in these statuses; an expired lease means it was lost.
PROCESSING: Final = frozenset({RenderStatus.POSTER_PROCESSING, RenderStatus.POSTER_DONE, RenderStatus.VIDEO_PROCESSING})
FINISHED: Final = frozenset({RenderStatus.DONE, RenderStatus.ERROR, RenderStatus.FAILED})

# status -> the statuses it may move to. A worker claiming a render moves it to poster-processing,
# also from a processing status whose lease expired (the previous worker is gone); any unfinished
# render may fail; only dismissing moves error to failed.
TRANSITIONS: Final[dict[RenderStatus, frozenset[RenderStatus]]] = {
    RenderStatus.PENDING: frozenset({RenderStatus.POSTER_PROCESSING, RenderStatus.ERROR}),
    RenderStatus.POSTER_PROCESSING: frozenset(
        {RenderStatus.POSTER_PROCESSING, RenderStatus.POSTER_DONE, RenderStatus.DONE, RenderStatus.ERROR}
    ),
    RenderStatus.POSTER_DONE: frozenset(
        {RenderStatus.POSTER_PROCESSING, RenderStatus.VIDEO_PROCESSING, RenderStatus.DONE, RenderStatus.ERROR}
    ),
    RenderStatus.VIDEO_PROCESSING: frozenset({RenderStatus.POSTER_PROCESSING, RenderStatus.DONE, RenderStatus.ERROR}),
    RenderStatus.DONE: frozenset(),
    RenderStatus.ERROR: frozenset({RenderStatus.FAILED}),
    RenderStatus.FAILED: frozenset(),
}


def sources_of(target: RenderStatus) -> frozenset[RenderStatus]:
    """The statuses a render may be in to move to ``target``."""
    return frozenset(status for status, targets in TRANSITIONS.items() if target in targets)


# --- limits of the documented API ---------------------------------------------------------------

MAX_BATCH: Final = 100
DEFAULT_PAGE_LIMIT: Final = 50
MAX_PAGE_LIMIT: Final = 100


class Scope(StrEnum):
    MODELS_READ = "models:read"
    MODELS_WRITE = "models:write"
    RENDERS_READ = "renders:read"
    RENDERS_WRITE = "renders:write"
    OVERLAYS_READ = "overlays:read"
    OVERLAYS_WRITE = "overlays:write"
    ACCOUNT_READ = "account:read"
    # Added by dxgl: managing API tokens (a portal session may always; a token needs this scope).
    TOKENS_WRITE = "tokens:write"
    # Added by dxgl: webhook endpoints (docs/webhooks.md).
    WEBHOOKS_READ = "webhooks:read"
    WEBHOOKS_WRITE = "webhooks:write"


# --- error codes ----------------------------------------------------------------------------------


class ErrorCode(StrEnum):
    """Every error code dxgl answers, with its HTTP status and default message. The first block is
    the documented table (dxgl-public-api.md, "Errors"); the rest are dxgl's additions, documented
    in docs/api.md ("Error statuses")."""

    status: int
    default_message: str

    def __new__(cls, value: str, status: int, message: str) -> ErrorCode:
        member = str.__new__(cls, value)
        member._value_ = value
        member.status = status
        member.default_message = message
        return member

    @classmethod
    def of(cls, value: str) -> ErrorCode:
        """The code named ``value``; ValueError for a code the contract does not have."""
        for code in cls:
            if code.value == value:
                return code
        raise ValueError(f"unknown error code {value!r}")

    UNAUTHORIZED = ("unauthorized", 401, "Missing, invalid, or revoked token")
    TOKEN_EXPIRED = ("token_expired", 401, "Token has expired")
    FORBIDDEN = ("forbidden", 403, "Account suspended")
    INSUFFICIENT_SCOPE = ("insufficient_scope", 403, "Token lacks required scope")
    NO_FILE = ("no_file", 400, "No file in upload request")
    INVALID_FORMAT = ("invalid_format", 400, "File is not .glb, .gltf, or .zip")
    INVALID_URL = ("invalid_url", 400, "Malformed URL")
    URL_REQUIRED = ("url_required", 400, "Missing url field")
    INVALID_SETTINGS = ("invalid_settings", 400, "Invalid renderSettings value")
    MODEL_ID_REQUIRED = ("model_id_required", 400, "Missing modelId field")
    FILE_TOO_LARGE = ("file_too_large", 400, "File exceeds 100 MB limit")
    NO_CREDITS = ("no_credits", 402, "No render credits remaining")
    MODEL_NOT_FOUND = ("model_not_found", 404, "Model not found")
    RENDER_NOT_FOUND = ("render_not_found", 404, "Render not found")
    RENDERS_REQUIRED = ("renders_required", 400, "Missing or empty renders array")
    TOO_MANY = ("too_many", 400, "Batch exceeds 100 renders")
    UPLOAD_LIMIT = ("upload_limit", 429, "Free upload limit reached")
    VIDEO_NOT_FOUND = ("video_not_found", 404, "Video not yet available")
    POSTER_NOT_FOUND = ("poster_not_found", 404, "Poster not yet available")
    THUMB_NOT_FOUND = ("thumb_not_found", 404, "Thumbnail not yet available")
    FILE_NOT_FOUND = ("file_not_found", 404, "Model file not found in storage")
    SHA256_REQUIRED = ("sha256_required", 400, "Missing sha256 field")
    TIMEOUT = ("timeout", 408, "URL download timed out")
    INTERNAL = ("internal", 500, "Internal server error")
    # Added by dxgl.
    INVALID_REQUEST = ("invalid_request", 400, "Invalid request")
    INVALID_JSON = ("invalid_json", 400, "Request body is not valid JSON")
    INVALID_MODEL = ("invalid_model", 400, "The model file is damaged or unsafe to read")
    NOT_FOUND = ("not_found", 404, "Not found")
    METHOD_NOT_ALLOWED = ("method_not_allowed", 405, "Method not allowed")
    INVALID_STATE = ("invalid_state", 409, "The render is not in a state that allows this")
    RANGE_NOT_SATISFIABLE = ("range_not_satisfiable", 416, "Requested range not satisfiable")
    OVERLAY_NOT_FOUND = ("overlay_not_found", 404, "Overlay not found")
    SERVICE_UNAVAILABLE = ("service_unavailable", 503, "Service unavailable")
    QUERY_TOO_COMPLEX = ("query_too_complex", 400, "The GraphQL operation is too deep, too wide or too costly")
    RATE_LIMITED = ("rate_limited", 429, "Too many requests; retry later")
    IDEMPOTENCY_CONFLICT = (
        "idempotency_conflict",
        409,
        "This Idempotency-Key was used with a different request, or that request is still running",
    )
    WEBHOOK_NOT_FOUND = ("webhook_not_found", 404, "Webhook endpoint not found")
    UNSUPPORTED_EXTENSION = (
        "unsupported_extension",
        400,
        "The model requires a glTF extension dxgl cannot decode",
    )


# --- storage keys ---------------------------------------------------------------------------------


def model_key(account_id: str, model_id: str) -> str:
    """Where a model's GLB is stored."""
    return f"models/{account_id}/{model_id}.glb"


def decoded_model_key(account_id: str, model_id: str) -> str:
    """Where the decoded, normalised copy of a model is stored (what renders and the 3D view load)
    when it differs from the model file: compression, quantization, KTX2 and the like decoded once
    at upload, never per render."""
    return f"models/{account_id}/{model_id}.decoded.glb"


def render_prefix(render_id: str) -> str:
    """The folder of every file of one render (deleted together)."""
    return f"renders/{render_id}"


def render_key(render_id: str, filename: str) -> str:
    return f"{render_prefix(render_id)}/{filename}"


def overlay_key(overlay_id: str, suffix: str) -> str:
    """Where an overlay image is stored; ``suffix`` such as ``.png``."""
    return f"overlays/{overlay_id}{suffix}"
