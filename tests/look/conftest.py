"""The reference comparison's fixtures: Debian's chromium (``/usr/bin/chromium``, or
``DXGL_CHROMIUM``) for model-viewer. Without it the browser tests are skipped, except in CI
(``CI=true``), where a missing browser is a failure (the same rule as tests/portal).

Modules here that need the browser are marked ``look`` (registered below); the metrics' own tests
need neither a browser nor GL.
"""

from __future__ import annotations

import pytest

from tests.browser import require_chromium


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "look: the reference comparison against model-viewer (chromium + EGL)")


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """The chromium executable (tests/browser.py: skip locally, fail in CI, when it is missing)."""
    return require_chromium()
