"""fetch_url: download a model from an http(s) URL without letting the URL reach internal services.

Each hop (the first request and every redirect) is resolved, every resolved address is checked
against netpolicy, and the request is sent to that exact IP with the original Host header and TLS
SNI, so a DNS answer that changes between check and connect (rebinding) cannot redirect it. The
connected peer is checked once more before the body is read. Size is counted while streaming.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import httpx

from dxgl.contract import ErrorCode
from dxgl.errors import DxglError

from .netpolicy import DEFAULT_PORTS, IPAddress, literal_address, parse_url, refuse, resolve_checked
from .sniff import SNIFF_BYTES, sniff_format

MAX_REDIRECTS = 5
REDIRECT_STATUSES = {301, 302, 303, 307, 308}
FILENAME_UNSAFE = re.compile(r"[^\w.\- ]+")
MAX_FILENAME = 200


@dataclass(frozen=True)
class FetchedFile:
    path: Path
    size: int
    sha256: str
    final_url: str
    filename: str  # from Content-Disposition or the URL path, sanitised; never a path


def _parse(url: str) -> httpx.URL:
    return parse_url(url)


async def _resolve(host: str, port: int, *, allow_private: bool) -> IPAddress:
    """The one address to connect to (the network policy's rule, shared with webhook delivery)."""
    return await resolve_checked(host, port, allow_private=allow_private)


def _peer_address(response: httpx.Response) -> IPAddress | None:
    stream = response.extensions.get("network_stream")
    peer = stream.get_extra_info("server_addr") if stream is not None else None
    return ipaddress.ip_address(peer[0]) if peer else None


def sanitise_filename(raw: str) -> str:
    """A plain file name: no directories, no control or shell characters, bounded length."""
    name = raw.replace("\\", "/").split("/")[-1]
    name = FILENAME_UNSAFE.sub("_", name).strip(" .")
    return name[:MAX_FILENAME] or "download"


def _filename(response: httpx.Response, url: httpx.URL) -> str:
    disposition = response.headers.get("content-disposition", "")
    match = re.search(r"filename\*\s*=\s*[\w-]+'[^']*'([^;]+)", disposition, re.I)
    if match:
        return sanitise_filename(unquote(match.group(1).strip()))
    match = re.search(r'filename\s*=\s*"([^"]*)"|filename\s*=\s*([^;]+)', disposition, re.I)
    if match:
        return sanitise_filename((match.group(1) or match.group(2) or "").strip())
    return sanitise_filename(unquote(url.path))


async def _stream_to_file(response: httpx.Response, path: Path, limit_bytes: int) -> tuple[int, str]:
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit_bytes:
        raise DxglError(ErrorCode.FILE_TOO_LARGE, f"the file is {int(declared)} bytes; the limit is {limit_bytes}")
    digest = hashlib.sha256()
    size = 0
    head = b""
    with open(path, "wb") as out:
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > limit_bytes:
                raise DxglError(ErrorCode.FILE_TOO_LARGE, f"the download exceeded the limit of {limit_bytes} bytes")
            if len(head) < SNIFF_BYTES:
                head += chunk[: SNIFF_BYTES - len(head)]
                if len(head) >= SNIFF_BYTES:
                    _check_kind(head)
            digest.update(chunk)
            out.write(chunk)
    _check_kind(head)
    return size, digest.hexdigest()


def _check_kind(head: bytes) -> None:
    if sniff_format(head) not in ("glb", "gltf"):
        raise DxglError(
            ErrorCode.INVALID_FORMAT,
            "the URL does not serve a GLB or glTF file; URL ingest supports GLB/glTF only (upload ZIPs as files)",
        )


async def _fetch(url: str, dest: Path, limit_bytes: int, timeout_s: float, allow_private: bool) -> FetchedFile:
    current = _parse(url)
    timeout = httpx.Timeout(timeout_s)
    # No kept-alive connections: a redirect to another host on the same pinned address must not
    # reuse a TLS connection verified for the first host's name.
    async with httpx.AsyncClient(
        trust_env=False,
        follow_redirects=False,
        timeout=timeout,
        verify=True,
        limits=httpx.Limits(max_keepalive_connections=0),
    ) as client:
        for _hop in range(MAX_REDIRECTS + 1):
            port = current.port or DEFAULT_PORTS[current.scheme]
            address = await _resolve(current.host, port, allow_private=allow_private)
            host_header = current.netloc.decode("ascii")
            extensions = (
                {"sni_hostname": current.host}
                if current.scheme == "https" and literal_address(current.host) is None
                else {}
            )
            request = client.build_request(
                "GET",
                current.copy_with(host=str(address)),
                headers={"Host": host_header, "Accept-Encoding": "identity", "User-Agent": "dxgl-ingest/1"},
                extensions=extensions,
            )
            response = await client.send(request, stream=True)
            try:
                peer = _peer_address(response)
                if peer is not None and peer != address:
                    raise refuse(f"connected to {peer}, not the checked address {address}")
                if response.status_code in REDIRECT_STATUSES and "location" in response.headers:
                    current = _parse(str(current.join(response.headers["location"])))
                    continue
                if response.status_code != 200:
                    raise refuse(f"the server answered HTTP {response.status_code}")
                path = dest / f"url-{secrets.token_hex(8)}.download"
                try:
                    size, sha256 = await _stream_to_file(response, path, limit_bytes)
                except BaseException:
                    path.unlink(missing_ok=True)
                    raise
                return FetchedFile(
                    path=path, size=size, sha256=sha256, final_url=str(current), filename=_filename(response, current)
                )
            finally:
                await response.aclose()
    raise refuse(f"more than {MAX_REDIRECTS} redirects")


async def fetch_url(
    url: str, dest_dir: Path, *, limit_bytes: int, timeout_s: float, allow_private: bool = False
) -> FetchedFile:
    """Download ``url`` into ``dest_dir`` (http/https, public addresses only unless allow_private).

    Raises DxglError invalid_url (malformed, refused scheme/address, HTTP error, too many redirects),
    file_too_large (counted while streaming), timeout (``timeout_s`` covers all hops and the body),
    invalid_format (not GLB/glTF). A partial file is removed on any failure.
    """
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    try:
        async with asyncio.timeout(timeout_s):
            return await _fetch(url, dest, limit_bytes, timeout_s, allow_private)
    except (TimeoutError, httpx.TimeoutException):
        raise DxglError(ErrorCode.TIMEOUT, f"the download did not finish within {timeout_s:g} s") from None
    except httpx.HTTPError as exc:
        raise refuse(f"the download failed ({type(exc).__name__}: {str(exc)[:200]})") from None
