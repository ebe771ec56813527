"""Debian's chromium for the browser tests (tests/portal, tests/look): where it is
(``/usr/bin/chromium``, or ``DXGL_CHROMIUM``; Playwright's own browser download is not used), and
the rule for a missing one: skipped locally, a failure in CI (``CI=true``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("DXGL_CHROMIUM", "/usr/bin/chromium")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_chromium() -> str:
    """The chromium executable; skip locally, fail in CI, when it is missing."""
    if Path(CHROMIUM).exists() and os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    message = f"{CHROMIUM} is missing (apt-get install -y chromium; scripts/test installs it)"
    if in_ci():
        pytest.fail(message)
    pytest.skip(message)
