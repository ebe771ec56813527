"""Validation of ``renderSettings``: every field's type, range and default, as one rule.

The fields, their kinds, ranges and defaults are the contract's (``dxgl.contract.SETTING_FIELDS``);
this module turns them into checks. Pure: no database, no I/O. Used by the render and model
services and the ``dxgl render`` command line. Strict types (CLARIFICATIONS.md): ``"6"``, ``6.5``
and ``true`` for ``length`` are invalid; unknown keys are invalid.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from dxgl.contract import (
    BASE_DEFAULTS,
    DATASET_DEFAULTS,
    DATASET_TIERS,
    OVERLAY_REFS,
    QUALITY_TIERS,
    SETTING_FIELDS,
    VIDEO_ONLY_FIELDS,
    Choice,
    DatasetQuality,
    Effect,
    EnvironmentRef,
    ErrorCode,
    Flag,
    HexColor,
    IntRange,
    NumberRange,
    Output,
    Quality,
    SettingKind,
    effect_defaults,
    output_size,
)
from dxgl.errors import DxglError

Check = Callable[[Any], Any]


def _bad(field: str, why: str) -> DxglError:
    return DxglError(ErrorCode.INVALID_SETTINGS, f"renderSettings.{field} {why}")


def _check(field: str, kind: SettingKind) -> Check:
    """The validator of one field: returns the value when it is valid, raises invalid_settings."""
    if isinstance(kind, Choice):
        options = kind.options
        why = "must be one of " + ", ".join(f'"{o}"' for o in options)
        return lambda value: value if isinstance(value, str) and value in options else _fail(field, why)
    if isinstance(kind, IntRange):
        low, high = kind.low, kind.high

        def integer(value: Any) -> Any:
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise _bad(field, f"must be an integer from {low} to {high}")
            return value

        return integer
    if isinstance(kind, NumberRange):
        lo, hi = kind.low, kind.high

        def number(value: Any) -> Any:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
                raise _bad(field, f"must be a number from {lo:g} to {hi:g}")
            if not lo <= value <= hi:
                raise _bad(field, f"must be a number from {lo:g} to {hi:g}")
            return value

        return number
    if isinstance(kind, Flag):
        return lambda value: value if isinstance(value, bool) else _fail(field, "must be true or false")
    if isinstance(kind, EnvironmentRef):
        return _environment_check(field, kind)
    pattern = re.compile(kind.pattern)
    why = (
        'must be a 6-digit hex colour with "#", e.g. "#ff8800"'
        if isinstance(kind, HexColor)
        else "must be an overlay id"
    )
    return lambda value: value if isinstance(value, str) and pattern.fullmatch(value) else _fail(field, why)


def _fail(field: str, why: str) -> Any:
    raise _bad(field, why)


def _environment_check(field: str, kind: EnvironmentRef) -> Check:
    """A built-in name, or a string shaped like an overlay id (whether it names an environment
    overlay the caller may use is checked with the database: ``overlays.resolve_settings_overlays``)."""
    pattern = re.compile(kind.pattern)
    why = (
        "must be a built-in environment ("
        + ", ".join(f'"{name}"' for name in kind.builtins)
        + ") or the id of an environment overlay"
    )

    def environment(value: Any) -> Any:
        if isinstance(value, str) and (value in kind.builtins or pattern.fullmatch(value)):
            return value
        raise _bad(field, why)

    return environment


def is_builtin_environment(value: Any) -> bool:
    """Does ``renderSettings.environment`` name a built-in environment (not an overlay)?"""
    kind = SETTING_FIELDS["environment"]
    return isinstance(kind, EnvironmentRef) and value in kind.builtins


FIELDS: dict[str, Check] = {name: _check(name, kind) for name, kind in SETTING_FIELDS.items()}


def validate_render_settings(raw: Any) -> dict[str, Any]:
    """Check ``raw`` (the client's ``renderSettings``; ``None`` = all defaults) and return the
    settings to store, with every default filled in. Raises ``DxglError(invalid_settings)``
    naming the first bad field."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise DxglError(ErrorCode.INVALID_SETTINGS, "renderSettings must be a JSON object")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        check = FIELDS.get(key)
        if check is None:
            raise _bad(str(key)[:64], "is not a known render setting")
        out[key] = check(value)

    # `output: "dataset"` and `effect: "dataset"` both select a dataset (CLARIFICATIONS.md).
    if out.get("output") == Output.DATASET or out.get("effect") == Effect.DATASET:
        out["effect"] = Effect.DATASET.value
        out["output"] = Output.DATASET.value
        for key, default in DATASET_DEFAULTS.items():
            out.setdefault(key, default)
    else:
        out["output"] = Output.VIDEO.value
        for key in DATASET_DEFAULTS:
            if key in out:
                raise _bad(key, 'applies only to dataset renders (effect "dataset")')
    if out["output"] == Output.DATASET:
        for key in VIDEO_ONLY_FIELDS:
            if key in out:
                raise _bad(key, "applies only to video renders (a dataset's views are a fixed set of directions)")
        if out.get("showEnvironment") is True:
            # A dataset's images are the product on white with masks from its geometry: an
            # environment behind it would be dropped, so it is refused rather than ignored.
            raise _bad("showEnvironment", "applies only to video renders (dataset images are on white)")
    for key, default in BASE_DEFAULTS.items():
        out.setdefault(key, default)
    for key, default in effect_defaults(out["effect"]).items():
        out.setdefault(key, default)
    for ref in OVERLAY_REFS:
        if ref.align_field in out and ref.image_field not in out:
            raise _bad(ref.align_field, f"needs {ref.image_field}")
    if out["showEnvironment"] and "bgImageId" in out:
        # Two backgrounds for one frame: refused rather than one silently winning.
        raise _bad(
            "showEnvironment",
            "cannot be combined with bgImageId: choose the environment or the image as the background",
        )
    return out


def is_dataset(settings: dict[str, Any]) -> bool:
    return bool(settings.get("effect") == Effect.DATASET)


def render_cost(settings: dict[str, Any]) -> int:
    """Credits a render with these (validated) settings costs."""
    if is_dataset(settings):
        return DATASET_TIERS[DatasetQuality(settings["datasetQuality"])].credits
    return QUALITY_TIERS[Quality(settings["quality"])].credits


def free_credits_may_pay(settings: dict[str, Any]) -> bool:
    """Free credits pay for standard videos (watermarked) and 100x800 datasets (no watermark)."""
    if is_dataset(settings):
        return DATASET_TIERS[DatasetQuality(settings["datasetQuality"])].free_credits_may_pay
    return QUALITY_TIERS[Quality(settings["quality"])].free_credits_may_pay


# --- the free system preview (docs/api.md, "System previews") ------------------------------------

# What every new upload's system preview renders: a 3 s turntable at the lowest quality tier. Fixed
# settings, validated by the same rule as a client's (so they are stored with every default filled).
SYSTEM_PREVIEW_SETTINGS: dict[str, Any] = {"quality": Quality.STANDARD.value, "effect": "turntable", "length": 3}
# Drawn at this fraction of each side of its tier's size: 480x270 for 16:9 (the thumbnail's size).
SYSTEM_PREVIEW_DIVISOR = 4


def system_preview_settings() -> dict[str, Any]:
    """The stored settings of a system preview."""
    return validate_render_settings(dict(SYSTEM_PREVIEW_SETTINGS))


def system_preview_size(settings: dict[str, Any]) -> tuple[int, int]:
    """The (width, height) a system preview is drawn at: a quarter of its tier's size on each side,
    kept even (the job spec's ``size`` override; ``DXGL_RENDER_MAX_SIZE`` still caps it)."""
    width, height = output_size(settings["quality"], settings["aspect"])
    return (
        max(2, width // SYSTEM_PREVIEW_DIVISOR // 2 * 2),
        max(2, height // SYSTEM_PREVIEW_DIVISOR // 2 * 2),
    )
