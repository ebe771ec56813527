"""Random public identifiers (12 base62 characters, like ``Ab3kF9x2qL1m``)."""

from __future__ import annotations

import re
import secrets
import string

BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


def random_base62(length: int) -> str:
    return "".join(secrets.choice(BASE62) for _ in range(length))


def new_id() -> str:
    return random_base62(12)


_ID = re.compile(r"^[0-9A-Za-z]{1,32}$")


def is_id(value: object) -> bool:
    """Could ``value`` be one of our ids? Anything else is "not found" without a query (and never
    reaches the database: PostgreSQL refuses NUL characters in text)."""
    return isinstance(value, str) and bool(_ID.match(value))
