"""Ingest: turn an untrusted upload or URL into one validated, self-contained GLB, and its decoded copy.

Public interface for dxgl.services (see docs/ingest.md):
  sniff_format(head, size=None) -> a ModelKind ("glb", "gltf", "zip", "usdz", "usda", "usdc", "stl", "ply") or None
  prepare_model(upload_path, work_dir, *, original_name="", limits=...) -> PreparedModel
    (the model file, the decoded GLB renders load when it differs, the inspection report, warnings)
  await fetch_url(url, dest_dir, *, limit_bytes, timeout_s, allow_private=False) -> FetchedFile
"""

from .fetch import FetchedFile, fetch_url
from .limits import DEFAULT_LIMITS, IngestLimits
from .prepare import PreparedModel, prepare_model
from .sniff import ModelKind, sniff_format

__all__ = [
    "DEFAULT_LIMITS",
    "FetchedFile",
    "IngestLimits",
    "ModelKind",
    "PreparedModel",
    "fetch_url",
    "prepare_model",
    "sniff_format",
]
