"""Where the shared test models are: ``../shared/assets/models`` beside the checkout (as CI lays it
out), or ``DXGL_ASSETS``."""

from __future__ import annotations

import os
from pathlib import Path

MODELS_DIR = Path(os.environ.get("DXGL_ASSETS") or Path(__file__).resolve().parents[2] / "shared" / "assets" / "models")
