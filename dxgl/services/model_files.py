"""Turning an uploaded or fetched file into what we store: recognised by content, validated,
converted and decoded by ``dxgl.ingest`` (limits, containment, a child process for the parse).

Two GLBs may come out: the **model file** (what ``GET /v1/models/:id/file`` answers: a GLB upload
byte for byte, anything else converted to one GLB) and, when it differs, the **decoded copy**
(plain glTF 2.0: compression, quantization, KTX2 and the like decoded once, here, never per render)
that renders load (``services.assets.render_source_key``)."""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dxgl.ingest import prepare_model
from dxgl.ingest.limits import DEFAULT_LIMITS
from dxgl.services.uploads import UploadedFile
from dxgl.storage import Storage


@dataclass
class PreparedFile:
    glb_path: Path  # the model file, in storage's temporary folder, ready to publish
    source_kind: str
    warnings: list[str] = field(default_factory=list)
    # The decoded, normalised GLB renders load (staged like glb_path), or None when the model file
    # already is plain glTF and renders load it.
    decoded_path: Path | None = None
    # The inspection report (docs/ingest.md); stored as it is on the model row.
    inspection: dict[str, Any] = field(default_factory=dict)
    # The model file is the upload byte for byte (a GLB upload): on an object store it is then
    # copied from the upload's temporary object inside the server instead of uploaded again.
    glb_is_upload: bool = False

    def discard(self) -> None:
        self.glb_path.unlink(missing_ok=True)
        if self.decoded_path is not None:
            self.decoded_path.unlink(missing_ok=True)


def prepare(storage: Storage, upload: UploadedFile, *, texture_budget_mpx: float) -> PreparedFile:
    """Blocking (run it in a thread). Raises invalid_format / invalid_model / unsupported_extension
    with a clear message; nothing is left behind either way but the returned staged files.
    ``texture_budget_mpx`` is the deployment's decoded-texture budget per model
    (``DXGL_TEXTURE_BUDGET_MPX``)."""
    work_dir = storage.temp_dir()
    limits = replace(DEFAULT_LIMITS, texture_budget_mpx=texture_budget_mpx)
    staged: list[Path] = []
    try:
        prepared = prepare_model(upload.path, work_dir / "work", original_name=upload.filename, limits=limits)
        model_file = storage.temp_path(".glb")
        staged.append(model_file)
        shutil.copyfile(prepared.glb_path, model_file)
        decoded: Path | None = None
        if prepared.decoded_path is not None:
            decoded = storage.temp_path(".decoded.glb")
            staged.append(decoded)
            shutil.copyfile(prepared.decoded_path, decoded)
        return PreparedFile(
            model_file,
            prepared.source_kind,
            list(prepared.warnings),
            decoded_path=decoded,
            inspection=dict(prepared.inspection),
            glb_is_upload=_same_bytes(model_file, upload),
        )
    except BaseException:
        for path in staged:
            path.unlink(missing_ok=True)
        raise
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


def _same_bytes(path: Path, upload: UploadedFile) -> bool:
    if path.stat().st_size != upload.size:
        return False
    digest = hashlib.sha256()
    with open(path, "rb") as src:
        while chunk := src.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest() == upload.sha256
