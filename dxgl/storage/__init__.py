"""Blob storage: one interface (``Storage``), two backends: the local folder (the embedded
default) and an S3-compatible store (``DXGL_STORAGE_URL=s3://BUCKET[/PREFIX]``). ``open_storage``
picks one from the settings; ``ModelCache`` is a worker's bounded local copy of the blobs it renders.
See docs/storage.md."""

from __future__ import annotations

from pathlib import Path

from dxgl.config import Settings
from dxgl.storage.base import Blob, BlobSink, Storage, check_key
from dxgl.storage.cache import BlobCache
from dxgl.storage.local import LocalStorage

__all__ = ["Blob", "BlobCache", "BlobSink", "LocalStorage", "Storage", "check_key", "open_storage"]


def open_storage(settings: Settings) -> Storage:
    """The local folder (``DXGL_DATA_DIR/files``) unless ``DXGL_STORAGE_URL`` names an S3 store;
    then the scratch folder is ``DXGL_DATA_DIR/tmp`` on this machine only."""
    if not settings.storage_url:
        return LocalStorage(settings.files_dir)
    from dxgl.storage.s3 import S3Storage
    from dxgl.storage.s3_config import S3Config

    return S3Storage(S3Config.from_url(settings.storage_url), Path(settings.data_dir) / "tmp")
