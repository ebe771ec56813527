"""The reference comparison's fixtures: Debian's chromium (``/usr/bin/chromium``, or
``DXGL_CHROMIUM``) for model-viewer. Without it the browser tests are skipped, except in CI
(``CI=true``), where a missing browser is a failure (the same rule as tests/portal).

Modules here that need the browser are marked ``look`` (registered below); the metrics' own tests
need neither a browser nor GL.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.look.harness import CHROMIUM


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "look: the reference comparison against model-viewer (chromium + EGL)")


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """The chromium executable; skip locally, fail in CI, when it is missing."""
    if Path(CHROMIUM).exists() and os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    message = f"{CHROMIUM} is missing (apt-get install -y chromium; scripts/test installs it)"
    if _in_ci():
        pytest.fail(message)
    pytest.skip(message)
