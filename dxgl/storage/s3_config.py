"""Where the S3 store is and how to sign in to it: ``DXGL_STORAGE_URL=s3://BUCKET[/PREFIX]`` for
the place, the AWS SDKs' standard environment variables for the rest (``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, ``AWS_REGION`` or ``AWS_DEFAULT_REGION``,
``AWS_ENDPOINT_URL`` for an S3-compatible server other than AWS)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from dxgl.storage.base import check_key


@dataclass(frozen=True)
class S3Config:
    bucket: str
    prefix: str  # "" or "a/b" (no slash at either end)
    region: str
    endpoint: str  # scheme://host[:port], path-style addressing
    access_key_id: str
    secret_access_key: str
    session_token: str = ""

    @classmethod
    def from_url(cls, url: str, env: Mapping[str, str] | None = None) -> S3Config:
        env = os.environ if env is None else env
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc or parts.query or parts.fragment:
            raise ValueError(f"DXGL_STORAGE_URL must be s3://BUCKET[/PREFIX], not {url!r}")
        prefix = parts.path.strip("/")
        if prefix:
            check_key(prefix)
        region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
        endpoint = (env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or "").rstrip("/")
        key_id, secret = env.get("AWS_ACCESS_KEY_ID", ""), env.get("AWS_SECRET_ACCESS_KEY", "")
        if not key_id or not secret:
            raise ValueError("an s3:// DXGL_STORAGE_URL needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
        return cls(
            bucket=parts.netloc,
            prefix=prefix,
            region=region,
            endpoint=endpoint or f"https://s3.{region}.amazonaws.com",
            access_key_id=key_id,
            secret_access_key=secret,
            session_token=env.get("AWS_SESSION_TOKEN", ""),
        )

    def full_key(self, key: str) -> str:
        """The object's key in the bucket (with the prefix)."""
        return f"{self.prefix}/{key}" if self.prefix else key

    def relative_key(self, full: str) -> str | None:
        """``full_key``'s inverse; None for an object outside the prefix."""
        if not self.prefix:
            return full
        head = self.prefix + "/"
        return full[len(head) :] if full.startswith(head) else None
