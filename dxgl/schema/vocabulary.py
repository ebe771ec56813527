"""The contract's vocabulary as GraphQL types, built from ``dxgl.contract`` (no value written here):
the enums (quality, effect, output, aspect, dataset quality, coverage, alignment, overlay layer,
render status), ``RenderSettingsInput`` (one optional field per ``contract.SETTING_FIELDS`` entry) and
the typed output ``RenderSettings``.

Enum value names are GraphQL's UPPER_SNAKE form of the contract value: every run of characters that
is not a letter or digit becomes ``_`` (``hero-spin`` -> ``HERO_SPIN``, ``top-left`` -> ``TOP_LEFT``),
and a value that starts with a digit gets its enum's letter in front (``Q`` for qualities:
``4k`` -> ``Q4K``, ``100x800`` -> ``Q100X800``; ``R``, ratio, for aspects: ``16:9`` -> ``R16_9``).

Validation stays in ``services.render_settings``: ``settings_dict`` turns the input into the very
dict REST would pass (camelCase keys, contract values, omitted fields absent, an explicit null kept
as null), so the service answers GraphQL and REST with the same ``invalid_settings`` error.
"""

from __future__ import annotations

import enum
import re
from typing import Any

import strawberry

from dxgl.contract import (
    BASE_DEFAULTS,
    DATASET_DEFAULTS,
    DATASET_TIERS,
    EFFECT_PARAMS,
    OVERLAY_REFS,
    QUALITY_TIERS,
    SETTING_FIELDS,
    VIDEO_ONLY_FIELDS,
    Alignment,
    Aspect,
    Choice,
    Coverage,
    DatasetNormals,
    DatasetQuality,
    Effect,
    EnvironmentRef,
    Flag,
    HexColor,
    IntRange,
    NumberRange,
    Output,
    OverlayLayer,
    Quality,
    RenderStatus,
    SettingKind,
    output_size,
)
from dxgl.errors import DxglError
from dxgl.services.render_settings import validate_render_settings

_NOT_NAME = re.compile(r"[^A-Z0-9]+")


def graphql_name(value: str, digit_prefix: str) -> str:
    """The GraphQL enum value name of a contract value (see the module's docstring)."""
    name = _NOT_NAME.sub("_", value.upper()).strip("_")
    return digit_prefix + name if name[:1].isdigit() else name


def _enum(
    source: type[enum.StrEnum],
    name: str,
    description: str,
    *,
    digit_prefix: str = "V",
    value_descriptions: dict[str, str] | None = None,
) -> Any:
    """A Strawberry enum whose values are ``source``'s (the members' ``.value`` is the contract string)."""
    notes = value_descriptions or {}
    members = {
        graphql_name(member.value, digit_prefix): strawberry.enum_value(
            member.value,
            description=f'"{member.value}"' + (f": {notes[member.value]}" if member.value in notes else ""),
        )
        for member in source
    }
    return strawberry.enum(enum.Enum(name, members), name=name, description=description)  # type: ignore[misc]


def _quality_note(quality: Quality) -> str:
    tier = QUALITY_TIERS[quality]
    sizes = ", ".join(f"{'x'.join(map(str, output_size(quality, a)))} ({a})" for a in Aspect)
    return f"{sizes}; {tier.codec}; {tier.credits} credit(s)" + (
        "; free credits may pay (watermarked)" if tier.free_credits_may_pay else ""
    )


def _dataset_note(tier_name: DatasetQuality) -> str:
    tier = DATASET_TIERS[tier_name]
    return f"{tier.views} views of {tier.size}x{tier.size}; {tier.credits} credit(s)" + (
        "; free credits may pay" if tier.free_credits_may_pay else ""
    )


QualityEnum = _enum(
    Quality,
    "Quality",
    "A video's quality tier (renderSettings.quality).",
    digit_prefix="Q",
    value_descriptions={q.value: _quality_note(q) for q in Quality},
)
EffectEnum = _enum(Effect, "Effect", "The camera move of a video, or a dataset (renderSettings.effect).")
OutputEnum = _enum(Output, "RenderOutput", "What a render makes (renderSettings.output).")
AspectEnum = _enum(Aspect, "Aspect", "A video's aspect ratio (renderSettings.aspect).", digit_prefix="R")
DatasetQualityEnum = _enum(
    DatasetQuality,
    "DatasetQuality",
    "A dataset's tier: views x image size (renderSettings.datasetQuality).",
    digit_prefix="Q",
    value_descriptions={d.value: _dataset_note(d) for d in DatasetQuality},
)
CoverageEnum = _enum(Coverage, "Coverage", "Where a dataset's views are taken from (renderSettings.coverage).")
DatasetNormalsEnum = _enum(
    DatasetNormals,
    "DatasetNormals",
    "What a dataset's normals/ images hold (renderSettings.datasetNormals).",
    value_descriptions={
        DatasetNormals.GEOMETRIC.value: "the interpolated vertex normal",
        DatasetNormals.SHADING.value: "the vertex normal bent by the material's normal map",
    },
)
AlignmentEnum = _enum(Alignment, "Alignment", "Where an overlay image is placed in the frame.")
OverlayLayerEnum = _enum(
    OverlayLayer,
    "OverlayLayer",
    "Behind the model (background), over it (foreground), or the light it is lit by (environment: an HDR image).",
)
RenderStatusEnum = _enum(
    RenderStatus,
    "RenderStatus",
    "A render's status: " + " -> ".join(s.value for s in list(RenderStatus)[:5]) + ", or error (refunded), "
    "then failed once dismissed.",
)

# The contract enum behind each Choice field, found by its options (SETTING_FIELDS holds only the values).
_ENUMS_BY_OPTIONS: dict[tuple[str, ...], Any] = {
    tuple(m.value for m in source): graphql_enum
    for source, graphql_enum in (
        (Quality, QualityEnum),
        (Effect, EffectEnum),
        (Output, OutputEnum),
        (Aspect, AspectEnum),
        (DatasetQuality, DatasetQualityEnum),
        (Coverage, CoverageEnum),
        (DatasetNormals, DatasetNormalsEnum),
        (Alignment, AlignmentEnum),
    )
}


def enum_of(field: str) -> Any:
    """The GraphQL enum of a ``renderSettings`` field (None for a field that is not a choice)."""
    kind = SETTING_FIELDS[field]
    return _ENUMS_BY_OPTIONS[kind.options] if isinstance(kind, Choice) else None


def _python_type(kind: SettingKind) -> Any:
    if isinstance(kind, Choice):
        return _ENUMS_BY_OPTIONS[kind.options]
    if isinstance(kind, IntRange):
        return int
    if isinstance(kind, NumberRange):
        return float
    if isinstance(kind, Flag):
        return bool
    if isinstance(kind, (HexColor, EnvironmentRef)):
        return str  # an environment is a built-in name as often as an overlay id
    return strawberry.ID  # OverlayId


def _effects_using(field: str) -> list[tuple[Effect, float]]:
    return [(effect, p.default) for effect, params in EFFECT_PARAMS.items() for p in params if p.name == field]


def _shown(kind: SettingKind, default: object) -> str:
    """A default as a client writes it in GraphQL: an enum value's name, true/false, a number, a string."""
    if isinstance(kind, Choice):
        return str(_ENUMS_BY_OPTIONS[kind.options](default).name)
    if isinstance(default, bool):
        return str(default).lower()
    return f'"{default}"' if isinstance(default, str) else str(default)


def _describe(field: str, kind: SettingKind) -> str:
    """A field's rule and default, from the contract (the service's rule is the one that applies)."""
    if isinstance(kind, IntRange):
        text = f"Integer from {kind.low} to {kind.high}."
    elif isinstance(kind, NumberRange):
        text = f"Number from {kind.low:g} to {kind.high:g}."
    elif isinstance(kind, HexColor):
        text = 'Hex colour "#rrggbb".'
    elif isinstance(kind, Flag):
        text = "true or false."
    elif isinstance(kind, Choice):
        text = "See the enum's values."
    elif isinstance(kind, EnvironmentRef):
        text = (
            "A built-in environment ("
            + ", ".join(f'"{name}"' for name in kind.builtins)
            + ") or the id of an environment overlay."
        )
    else:
        text = "An overlay id."
    uses = _effects_using(field)
    if uses:
        text += " Used by " + ", ".join(f"{e.value} (default {d:g})" for e, d in uses) + "."
    if field in BASE_DEFAULTS:
        text += f" Default {_shown(kind, BASE_DEFAULTS[field])}."
    if field in DATASET_DEFAULTS:
        text += f" Datasets only; default {_shown(kind, DATASET_DEFAULTS[field])}."
    if field in VIDEO_ONLY_FIELDS:
        text += " Videos only; without it, chosen from the model's shape and stored."
    for ref in OVERLAY_REFS:
        if field == ref.image_field:
            text += f" A {ref.layer.value} overlay."
        if field == ref.align_field:
            text += f" Needs {ref.image_field}; default: the overlay's own alignment."
    return text


# Always present in stored settings (non-null in RenderSettings): the base defaults and `output`.
_ALWAYS = frozenset({*BASE_DEFAULTS, "output"})


def _settings_class(name: str, description: str, *, is_input: bool) -> Any:
    annotations: dict[str, Any] = {}
    namespace: dict[str, Any] = {}
    for field, kind in SETTING_FIELDS.items():
        python_type = _python_type(kind)
        nullable = is_input or field not in _ALWAYS
        annotations[field] = python_type | None if nullable else python_type
        defaults: dict[str, Any] = {"default": strawberry.UNSET if is_input else None} if nullable else {}
        namespace[field] = strawberry.field(name=field, description=_describe(field, kind), **defaults)
    namespace["__annotations__"] = annotations
    namespace["__doc__"] = description
    cls = type(name, (), namespace)
    if is_input:
        return strawberry.input(cls, description=description)
    return strawberry.type(cls, description=description)


RenderSettingsInput = _settings_class(
    "RenderSettingsInput",
    "renderSettings, typed: every field optional (left out: the default). The service validates the "
    "values (ranges, dataset-only fields, overlays) exactly as for REST: invalid_settings names the field.",
    is_input=True,
)
RenderSettings = _settings_class(
    "RenderSettings",
    "A render's stored settings, every default filled in (REST's renderSettings JSON, typed). Fields that "
    "do not apply to this render (other effects' parameters, dataset fields of a video, overlays) are null.",
    is_input=False,
)


def settings_dict(settings: Any) -> dict[str, Any] | None:
    """The ``renderSettings`` dict REST would pass for this input: camelCase keys, contract values,
    omitted fields absent; ``None`` when no settings were given (every default)."""
    if settings is None or settings is strawberry.UNSET:
        return None
    out: dict[str, Any] = {}
    for field in SETTING_FIELDS:
        value = getattr(settings, field, strawberry.UNSET)
        if value is strawberry.UNSET:
            continue
        out[field] = value.value if isinstance(value, enum.Enum) else value
    return out


def _typed(field: str, value: Any) -> Any:
    kind = SETTING_FIELDS[field]
    if value is None:
        return None
    if isinstance(kind, Choice):
        return value if value in kind.options else None
    if isinstance(kind, IntRange):
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    if isinstance(kind, NumberRange):
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    if isinstance(kind, Flag):
        return value if isinstance(value, bool) else None
    return value if isinstance(value, str) else None


def render_settings_of(stored: Any) -> Any:
    """``RenderSettings`` from a render's stored settings (``Render.settings``, REST's JSON). Stored
    settings are valid with every default filled in; one stored before a default existed gets it
    here, and a value the contract no longer knows reads as null (or the default, when required)."""
    raw = stored if isinstance(stored, dict) else {}
    try:
        full = validate_render_settings(dict(raw))
    except DxglError:
        full = {**BASE_DEFAULTS, "output": Output.VIDEO.value, **raw}
    values: dict[str, Any] = {}
    for field in SETTING_FIELDS:
        value = _typed(field, full.get(field))
        if value is None and field in _ALWAYS:
            value = BASE_DEFAULTS.get(field, Output.VIDEO.value)
        values[field] = value
    return RenderSettings(**values)
