"""Validation of ``renderSettings``: every field's type, range and default, in one place.

Pure: no database, no I/O. Used by the render/model services, the GraphQL and REST adapters (through
the services), and the ``dxgl render`` command line. Strict types (CLARIFICATIONS.md): ``"6"``,
``6.5`` and ``true`` for ``length`` are invalid; unknown keys are invalid.
"""

from __future__ import annotations

import re
from typing import Any

from dxgl.contract import ErrorCode
from dxgl.errors import DxglError

QUALITIES = ("standard", "4k", "pro")
EFFECTS = ("turntable", "hero-spin", "showcase", "zoom-orbit", "reveal", "dataset")
ASPECTS = ("16:9", "1:1", "9:16")
DATASET_QUALITIES = ("100x800", "196x1024", "400x2048")
COVERAGES = ("hemisphere", "sphere")
ALIGNMENTS = (
    "top-left",
    "top-center",
    "top-right",
    "center-left",
    "center",
    "center-right",
    "bottom-left",
    "bottom-center",
    "bottom-right",
)

QUALITY_COST = {"standard": 1, "4k": 4, "pro": 16}
DATASET_COST = {"100x800": 1, "196x1024": 4, "400x2048": 16}

# Always present in stored settings.
BASE_DEFAULTS: dict[str, Any] = {
    "quality": "standard",
    "effect": "turntable",
    "aspect": "16:9",
    "bgColor": "#ffffff",
    "length": 6,
    "shadows": True,
    "reflector": False,
    "easing": True,
    "rotateY": 0,
    "tiltX": 0,
}

# Effect parameters: filled in only for the effect that uses them.
EFFECT_DEFAULTS: dict[str, dict[str, Any]] = {
    "turntable": {},
    "hero-spin": {"sweepAngle": 540, "easeOutRatio": 0.6},
    "showcase": {"amplitude": 60},
    "zoom-orbit": {"zoomStart": 1.0, "zoomEnd": 0.7},
    "reveal": {"sweepAngle": 180, "scaleFrom": 0},
    "dataset": {},
}

DATASET_DEFAULTS: dict[str, Any] = {"datasetQuality": "100x800", "coverage": "hemisphere"}

_HEX_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


def _bad(field: str, why: str) -> DxglError:
    return DxglError(ErrorCode.INVALID_SETTINGS, f"renderSettings.{field} {why}")


def _choice(field: str, options: tuple[str, ...]):
    def check(value: Any) -> Any:
        if not isinstance(value, str) or value not in options:
            raise _bad(field, "must be one of " + ", ".join(f'"{o}"' for o in options))
        return value

    return check


def _integer(field: str, low: int, high: int):
    def check(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _bad(field, f"must be an integer from {low} to {high}")
        if not low <= value <= high:
            raise _bad(field, f"must be an integer from {low} to {high}")
        return value

    return check


def _number(field: str, low: float, high: float):
    def check(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
            raise _bad(field, f"must be a number from {low:g} to {high:g}")
        if not low <= value <= high:
            raise _bad(field, f"must be a number from {low:g} to {high:g}")
        return value

    return check


def _boolean(field: str):
    def check(value: Any) -> Any:
        if not isinstance(value, bool):
            raise _bad(field, "must be true or false")
        return value

    return check


def _color(field: str):
    def check(value: Any) -> Any:
        if not isinstance(value, str) or not _HEX_COLOR.match(value):
            raise _bad(field, 'must be a 6-digit hex colour with "#", e.g. "#ff8800"')
        return value

    return check


def _overlay_id(field: str):
    def check(value: Any) -> Any:
        if not isinstance(value, str) or not re.fullmatch(r"[0-9A-Za-z]{1,64}", value):
            raise _bad(field, "must be an overlay id")
        return value

    return check


FIELDS = {
    "quality": _choice("quality", QUALITIES),
    "effect": _choice("effect", EFFECTS),
    "output": _choice("output", ("video", "dataset")),
    "sweepAngle": _number("sweepAngle", 10, 1080),
    "easeOutRatio": _number("easeOutRatio", 0, 1),
    "amplitude": _number("amplitude", 5, 180),
    "zoomStart": _number("zoomStart", 0.1, 3),
    "zoomEnd": _number("zoomEnd", 0.1, 3),
    "scaleFrom": _number("scaleFrom", 0, 1),
    "aspect": _choice("aspect", ASPECTS),
    "bgColor": _color("bgColor"),
    "length": _integer("length", 3, 15),
    "shadows": _boolean("shadows"),
    "reflector": _boolean("reflector"),
    "easing": _boolean("easing"),
    "rotateY": _integer("rotateY", -180, 180),
    "tiltX": _integer("tiltX", -90, 90),
    "datasetQuality": _choice("datasetQuality", DATASET_QUALITIES),
    "coverage": _choice("coverage", COVERAGES),
    "bgImageId": _overlay_id("bgImageId"),
    "bgAlign": _choice("bgAlign", ALIGNMENTS),
    "fgImageId": _overlay_id("fgImageId"),
    "fgAlign": _choice("fgAlign", ALIGNMENTS),
}


def validate_render_settings(raw: Any) -> dict[str, Any]:
    """Check ``raw`` (the client's ``renderSettings``; ``None`` = all defaults) and return the
    settings to store, with every default filled in. Raises ``DxglError(ErrorCode.INVALID_SETTINGS)``
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
    if out.get("output") == "dataset" or out.get("effect") == "dataset":
        out["effect"] = "dataset"
        out["output"] = "dataset"
        for key, default in DATASET_DEFAULTS.items():
            out.setdefault(key, default)
    else:
        out["output"] = "video"
        for key in DATASET_DEFAULTS:
            if key in out:
                raise _bad(key, 'applies only to dataset renders (effect "dataset")')
    for key, default in BASE_DEFAULTS.items():
        out.setdefault(key, default)
    for key, default in EFFECT_DEFAULTS[out["effect"]].items():
        out.setdefault(key, default)
    for fg_key, align_key in (("bgImageId", "bgAlign"), ("fgImageId", "fgAlign")):
        if align_key in out and fg_key not in out:
            raise _bad(align_key, f"needs {fg_key}")
    return out


def render_cost(settings: dict[str, Any]) -> int:
    """Credits a render with these (validated) settings costs."""
    if settings["effect"] == "dataset":
        return DATASET_COST[settings["datasetQuality"]]
    return QUALITY_COST[settings["quality"]]


def free_credits_may_pay(settings: dict[str, Any]) -> bool:
    """Free credits pay for standard videos (watermarked) and 100x800 datasets (no watermark)."""
    if settings["effect"] == "dataset":
        return settings["datasetQuality"] == "100x800"
    return settings["quality"] == "standard"
