"""Unfinished multipart uploads: listed and aborted with two plain S3 calls (ListMultipartUploads,
AbortMultipartUpload), signed here with AWS Signature V4, because obstore does not expose them. A
process killed in the middle of a multipart upload leaves its parts on the server, invisible to
``GET`` and ``LIST`` but still stored (and billed) until someone aborts the upload: the sweeper."""

from __future__ import annotations

import hashlib
import hmac
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

import httpx

from dxgl.storage.s3_config import S3Config

_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


@dataclass(frozen=True)
class PendingUpload:
    key: str  # the object key in the bucket (prefix included)
    upload_id: str
    initiated: datetime


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def _q(text: str) -> str:
    return quote(text, safe="-_.~")


def signed_request(cfg: S3Config, method: str, path: str, query: dict[str, str]) -> httpx.Request:
    """A SigV4-signed request (empty body) for ``path`` under the endpoint (path-style)."""
    endpoint = urlsplit(cfg.endpoint)
    now = datetime.now(UTC)
    amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    canonical_path = quote(path, safe="/-_.~")
    canonical_query = "&".join(f"{_q(k)}={_q(v)}" for k, v in sorted(query.items()))
    headers = {"host": endpoint.netloc, "x-amz-content-sha256": _EMPTY_SHA256, "x-amz-date": amz_date}
    if cfg.session_token:
        headers["x-amz-security-token"] = cfg.session_token
    signed = ";".join(sorted(headers))
    canonical = "\n".join(
        [
            method,
            canonical_path,
            canonical_query,
            "".join(f"{k}:{headers[k]}\n" for k in sorted(headers)),
            signed,
            _EMPTY_SHA256,
        ]
    )
    scope = f"{day}/{cfg.region}/s3/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(_hmac(_hmac(_hmac(f"AWS4{cfg.secret_access_key}".encode(), day), cfg.region), "s3"), "aws4_request")
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={cfg.access_key_id}/{scope}, SignedHeaders={signed}, Signature={signature}"
    )
    url = f"{cfg.endpoint}{canonical_path}" + (f"?{canonical_query}" if canonical_query else "")
    return httpx.Request(method, url, headers=headers)


def _send(cfg: S3Config, method: str, path: str, query: dict[str, str]) -> httpx.Response:
    with httpx.Client(timeout=30) as client:
        response = client.send(signed_request(cfg, method, path, query))
    if response.status_code >= 300 and not (method == "DELETE" and response.status_code == 404):
        raise RuntimeError(
            f"S3 {method} {path}?{'&'.join(query)} answered {response.status_code}: {response.text[:300]}"
        )
    return response


def list_pending(cfg: S3Config) -> list[PendingUpload]:
    """Every multipart upload begun under the store's prefix and neither completed nor aborted."""
    found: list[PendingUpload] = []
    query = {"uploads": "", "prefix": cfg.full_key("") if cfg.prefix else ""}
    while True:
        root = ET.fromstring(_send(cfg, "GET", f"/{cfg.bucket}", query).content)
        for upload in root.iter(f"{_NS}Upload"):
            initiated = upload.findtext(f"{_NS}Initiated") or ""
            found.append(
                PendingUpload(
                    upload.findtext(f"{_NS}Key") or "",
                    upload.findtext(f"{_NS}UploadId") or "",
                    datetime.fromisoformat(initiated.replace("Z", "+00:00")) if initiated else datetime.now(UTC),
                )
            )
        if (root.findtext(f"{_NS}IsTruncated") or "").lower() != "true":
            return found
        query = {
            **query,
            "key-marker": root.findtext(f"{_NS}NextKeyMarker") or "",
            "upload-id-marker": root.findtext(f"{_NS}NextUploadIdMarker") or "",
        }


def abort(cfg: S3Config, upload: PendingUpload) -> None:
    _send(cfg, "DELETE", f"/{cfg.bucket}/{upload.key}", {"uploadId": upload.upload_id})
