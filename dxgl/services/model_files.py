"""Turning an uploaded or fetched file into the one GLB we store: recognised by content, validated
and converted by ``dxgl.ingest`` (limits, containment, a child process for the parse)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path

from dxgl.ingest import prepare_model
from dxgl.ingest.limits import DEFAULT_LIMITS
from dxgl.services.uploads import UploadedFile
from dxgl.storage import LocalStorage


@dataclass
class PreparedFile:
    glb_path: Path  # in storage's temporary folder, ready to publish
    source_kind: str
    warnings: list[str] = field(default_factory=list)

    def discard(self) -> None:
        self.glb_path.unlink(missing_ok=True)


def prepare(storage: LocalStorage, upload: UploadedFile, *, texture_budget_mpx: float) -> PreparedFile:
    """Blocking (run it in a thread). Raises invalid_format / invalid_model with a clear message;
    nothing is left behind either way but the returned staged GLB. ``texture_budget_mpx`` is the
    deployment's decoded-texture budget per model (``DXGL_TEXTURE_BUDGET_MPX``)."""
    work_dir = storage.temp_dir()
    limits = replace(DEFAULT_LIMITS, texture_budget_mpx=texture_budget_mpx)
    try:
        prepared = prepare_model(upload.path, work_dir / "work", original_name=upload.filename, limits=limits)
        staged = storage.temp_path(".glb")
        shutil.copyfile(prepared.glb_path, staged)
        return PreparedFile(staged, prepared.source_kind, list(prepared.warnings))
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
