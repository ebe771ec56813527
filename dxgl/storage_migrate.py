"""``dxgl storage migrate``: copy a local folder's blobs into the S3 store."""

from __future__ import annotations

import argparse


def migrate_command(args: argparse.Namespace) -> int:
    raise SystemExit("dxgl storage migrate is not built yet")
