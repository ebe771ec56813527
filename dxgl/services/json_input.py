"""JSON from clients, parsed with limits: one rule for REST bodies and JSON text fields.

A client's JSON may be valid and still unusable: nested deep enough to exhaust the parser's
recursion (a RecursionError, which used to be a 500), or holding a lone UTF-16 surrogate
(``"\\ud800"``), which no database can store as text. Both are refused as 4xx naming the place.
"""

from __future__ import annotations

import json
from typing import Any

from dxgl.contract import ErrorCode
from dxgl.errors import DxglError

# Deeper than any document of the API needs (renderSettings is 1 level, a batch 3).
MAX_DEPTH = 32


def loads(data: bytes | str, *, what: str, code: ErrorCode = ErrorCode.INVALID_JSON) -> Any:
    """Parse ``data`` as JSON and check it with :func:`check_tree`. ``what`` names it in errors
    ("Request body", "renderSettings"); ``code`` is the error for invalid or over-deep JSON."""
    try:
        value = json.loads(data)
    except RecursionError:
        raise DxglError(code, f"{what} is nested deeper than {MAX_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError):
        raise DxglError(code, f"{what} is not valid JSON") from None
    check_tree(value, what=what, code=code)
    return value


def check_tree(value: Any, *, what: str, code: ErrorCode = ErrorCode.INVALID_JSON) -> None:
    """Refuse nesting deeper than MAX_DEPTH (``code``) and any string or key that is not valid
    Unicode text (``invalid_request`` naming the field, e.g. ``title`` or ``renders[2].modelId``).
    Iterative, so no input can exhaust the stack here."""
    stack: list[tuple[Any, int, str]] = [(value, 1, "")]
    while stack:
        node, depth, path = stack.pop()
        if isinstance(node, dict | list):
            if depth > MAX_DEPTH:
                raise DxglError(code, f"{what} is nested deeper than {MAX_DEPTH} levels")
            if isinstance(node, dict):
                for key, child in node.items():
                    name = f"{path}.{key}" if path else str(key)
                    if not is_text(key):
                        raise DxglError(ErrorCode.INVALID_REQUEST, f"{what}: a field name is not valid Unicode text")
                    stack.append((child, depth + 1, name))
            else:
                stack.extend((child, depth + 1, f"{path}[{i}]") for i, child in enumerate(node))
        elif isinstance(node, str) and not is_text(node):
            raise DxglError(
                ErrorCode.INVALID_REQUEST, f"{path or what} is not valid Unicode text (it holds a lone surrogate)"
            )


def nesting_depth(value: Any, limit: int = MAX_DEPTH) -> int:
    """How deep ``value`` nests (a scalar is 0, ``[]`` is 1), counted without recursion; stops
    counting once past ``limit``. For transports that check depth alone (GraphQL bodies and
    websocket messages, whose text fields the services check)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    return deepest
            stack.extend((child, depth) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def is_text(value: str) -> bool:
    """True when ``value`` can be stored as UTF-8 (no lone surrogate)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
