"""Which network destinations URL ingest may connect to (the SSRF rules, in one place).

Checked on the resolved IP address that is then connected to, for the first request and every
redirect. Webhook deliveries use the same rules (``parse_url`` and ``resolve_checked``), at creation
and again before every attempt. Obscure numeric host spellings (``2130706433``, ``0x7f.1``, ``0177.1``, ``127.1``) are refused
outright: browsers and libc read them as IPv4 addresses, and no legitimate model URL needs them.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket

import httpx

from dxgl.contract import ErrorCode
from dxgl.errors import DxglError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$", re.I)
CANONICAL_IPV4 = re.compile(
    r"^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$"
)

# IPv6 ranges that embed or translate an IPv4 address: a way to spell a private IPv4 as IPv6.
IPV4_EMBEDDING_V6 = [
    ipaddress.ip_network("::ffff:0:0/96"),  # IPv4-mapped
    ipaddress.ip_network("::/96"),  # IPv4-compatible (deprecated)
    ipaddress.ip_network("64:ff9b::/96"),  # NAT64
    ipaddress.ip_network("64:ff9b:1::/48"),  # local-use NAT64
    ipaddress.ip_network("2002::/16"),  # 6to4
    ipaddress.ip_network("2001::/32"),  # Teredo
]
# Refused even with allow_private: cloud metadata lives on link-local, and none of these is a server.
CGNAT = ipaddress.ip_network("100.64.0.0/10")


def refuse(message: str) -> DxglError:
    return DxglError(ErrorCode.INVALID_URL, message)


def literal_address(host: str) -> IPAddress | None:
    """The address a host names when it is a canonical IP literal, else None (a name to resolve).

    Raises invalid_url for non-canonical numeric spellings of IPv4 addresses.
    """
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if ":" in bare:
        try:
            return ipaddress.IPv6Address(bare)
        except ValueError:
            raise refuse(f"host {host!r} is not a valid IPv6 address") from None
    name = bare.rstrip(".")
    if CANONICAL_IPV4.match(name):
        return ipaddress.IPv4Address(name)
    labels = name.split(".")
    if name == "" or all(NUMERIC_LABEL.match(label) for label in labels) or NUMERIC_LABEL.match(labels[-1]):
        raise refuse(
            f"host {host!r} is a numeric address spelling that is not accepted; use a host name or a dotted IPv4 address"
        )
    return None


def address_refusal(address: IPAddress, *, allow_private: bool) -> str | None:
    """Why connecting to ``address`` is refused, or None when it is allowed."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            return "an IPv6 address with a zone"
        embeds_v4 = not (address.is_loopback or address.is_unspecified)  # ::1 and :: sit inside ::/96
        if embeds_v4 and any(address in net for net in IPV4_EMBEDDING_V6):
            return "an IPv6 address that embeds an IPv4 address"
    if address.is_unspecified:
        return "the unspecified address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_link_local:
        return "a link-local address (including cloud metadata 169.254.169.254)"
    if address.is_reserved or (
        isinstance(address, ipaddress.IPv4Address) and address == ipaddress.IPv4Address("255.255.255.255")
    ):
        return "a reserved address"
    if address.is_global:
        return None
    if allow_private and (address.is_loopback or address.is_private or address in CGNAT):
        return None
    if address.is_loopback:
        return "a loopback address"
    if isinstance(address, ipaddress.IPv4Address) and address in CGNAT:
        return "a carrier-grade NAT address (100.64.0.0/10)"
    if address.is_private:
        return "a private network address"
    return "not a public address"


def check_address(address: IPAddress, host: str, *, allow_private: bool) -> None:
    """Raise invalid_url unless ``address`` may be connected to."""
    reason = address_refusal(address, allow_private=allow_private)
    if reason is not None:
        raise refuse(f"host {host!r} resolves to {address}, {reason}; only public addresses may be fetched")


DEFAULT_PORTS = {"http": 80, "https": 443}


def parse_url(url: str) -> httpx.URL:
    """An http(s) URL with a host and no user name or password, else invalid_url."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise refuse(f"the URL is malformed ({exc})") from None
    if parsed.scheme not in DEFAULT_PORTS:
        raise refuse(f"only http and https URLs are accepted, not {parsed.scheme or 'a relative URL'!r}")
    if not parsed.host:
        raise refuse("the URL has no host")
    if parsed.userinfo:
        raise refuse("URLs with a user name or password are not accepted")
    return parsed


def port_of(url: httpx.URL) -> int:
    return url.port or DEFAULT_PORTS[url.scheme]


async def resolve_checked(host: str, port: int, *, allow_private: bool) -> IPAddress:
    """The one address to connect to; every address the name resolves to must pass the policy."""
    literal = literal_address(host)
    if literal is not None:
        check_address(literal, host, allow_private=allow_private)
        return literal
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise refuse(f"host {host!r} could not be resolved ({exc})") from None
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    if not addresses:
        raise refuse(f"host {host!r} has no address")
    for address in addresses:
        check_address(address, host, allow_private=allow_private)
    return addresses[0]
