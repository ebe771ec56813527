"""Offset pagination shared by every list (REST ``meta`` and GraphQL pages)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dxgl.errors import DxglError

DEFAULT_LIMIT = 50
MAX_LIMIT = 100


@dataclass(frozen=True)
class Page:
    limit: int = DEFAULT_LIMIT
    offset: int = 0

    @classmethod
    def parse(cls, limit: Any = None, offset: Any = None) -> Page:
        """From query-string or GraphQL values. ``limit`` above 100 is clamped to 100
        (CLARIFICATIONS.md); non-integers, ``limit < 1`` and ``offset < 0`` are refused."""
        return cls(limit=min(_int("limit", limit, DEFAULT_LIMIT, 1), MAX_LIMIT), offset=_int("offset", offset, 0, 0))


def _int(name: str, value: Any, default: int, minimum: int) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value) if not isinstance(value, bool) else None
    except (TypeError, ValueError):
        number = None
    if number is None or number < minimum or number > 2**31:
        raise DxglError("invalid_request", f"{name} must be an integer >= {minimum}")
    return number
