"""Random public identifiers (12 base62 characters, like ``Ab3kF9x2qL1m``)."""

from __future__ import annotations

import secrets
import string

BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


def random_base62(length: int) -> str:
    return "".join(secrets.choice(BASE62) for _ in range(length))


def new_id() -> str:
    return random_base62(12)
