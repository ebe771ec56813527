"""The Client Portal: a single-page web app (static ES modules, no build step) served on ``/``.

``portal_routes()`` is mounted by ``dxgl.app.create_app``: ``/`` answers the shell (``index.html``,
hash routing), ``/portal/...`` the app's files and the vendored browser packages, and
``/portal/contract.json`` the render-settings vocabulary of ``dxgl.contract`` (fields, ranges,
defaults, credit costs) so the settings form never holds a copy of its own. Data comes only from
``/graphql`` (plus the cookie-authenticated asset GETs under ``/v1`` and ``/auth/*``).

Every answer carries a strict Content-Security-Policy (no inline script or style), ``nosniff`` and
``Referrer-Policy: same-origin``. Vendored files live under a versioned folder and are cached as
immutable; the app's own files are revalidated (ETag) on every load.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dxgl import contract
from dxgl.contract import (
    BASE_DEFAULTS,
    DATASET_DEFAULTS,
    DATASET_TIERS,
    EFFECT_PARAMS,
    FLAT_ELEVATION_STEPS,
    LOOPING_EFFECTS,
    MAX_ENVIRONMENT_HEIGHT,
    MAX_ENVIRONMENT_WIDTH,
    OVERLAY_REFS,
    QUALITY_TIERS,
    SETTING_FIELDS,
    UPRIGHT_ELEVATION_DEG,
    VIDEO_ONLY_FIELDS,
    Choice,
    EnvironmentRef,
    Flag,
    HexColor,
    IntRange,
    NumberRange,
    OverlayId,
    OverlayLayer,
    max_overlay_bytes,
    output_size,
)
from dxgl.schema.vocabulary import AlignmentEnum, OverlayLayerEnum, RenderStatusEnum, enum_of

STATIC_DIR = Path(__file__).resolve().parent / "static"
VENDOR_DIR = Path(__file__).resolve().parent / "vendor"

# A Host header we are willing to echo into connect-src: a host name or address and an optional port.
_HOST_RE = re.compile(r"^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$")

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"


MODEL_VIEWER = VENDOR_DIR / "model-viewer-4.4.0" / "model-viewer.min.js"


@lru_cache(maxsize=1)
def vendored_style_hashes() -> tuple[str, ...]:
    """``'sha256-...'`` of the one ``<style>`` block model-viewer's shadow template holds (its
    :host / canvas / slot rules; everything else it styles through constructable stylesheets and
    CSSOM, which CSP does not restrict). Hashing that exact text is the narrowest ``style-src``
    allowance that lets it apply: no ``'unsafe-inline'``. Read from the vendored file, so an update
    of the package carries its own hash."""
    try:
        text = MODEL_VIEWER.read_text(encoding="utf-8")
    except OSError:
        return ()
    hashes = []
    start = text.find("<style>")
    while start != -1:
        end = text.find("</style>", start)
        if end == -1:
            break
        block = text[start + len("<style>") : end]
        if "${" not in block:  # a static block only: an interpolated one has no fixed hash
            digest = base64.b64encode(hashlib.sha256(block.encode("utf-8")).digest()).decode()
            hashes.append(f"'sha256-{digest}'")
        start = text.find("<style>", end)
    return tuple(hashes)


def content_security_policy(host: str | None) -> str:
    """The portal's policy. ``connect-src`` names the websocket origin explicitly (``'self'`` covers
    ws/wss of the same host only in CSP level 3 browsers) and ``blob:``: three.js's GLTFLoader
    fetches a GLB's embedded textures from the blob: URLs it makes of them."""
    connect = ["'self'", "blob:"]
    if host and _HOST_RE.fullmatch(host):
        connect += [f"ws://{host}", f"wss://{host}"]
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self' 'wasm-unsafe-eval'",
            " ".join(["style-src 'self'", *vendored_style_hashes()]),
            "img-src 'self' blob: data:",
            "media-src 'self' blob:",
            f"connect-src {' '.join(connect)}",
            "worker-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
            "form-action 'self'",
        ]
    )


def security_headers(host: str | None) -> dict[str, str]:
    return {
        "Content-Security-Policy": content_security_policy(host),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "X-Frame-Options": "DENY",
        "Cross-Origin-Opener-Policy": "same-origin",
    }


def _host_of(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"host":
            return value.decode("latin-1")
    return None


class _Headers:
    """Adds the security headers and a Cache-Control to every answer of the wrapped app."""

    def __init__(self, app: ASGIApp, cache_control: str) -> None:
        self.app = app
        self.cache_control = cache_control

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = security_headers(_host_of(scope))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"cache-control"]
                headers += [(k.lower().encode(), v.encode()) for k, v in extra.items()]
                status = message.get("status", 200)
                cache = self.cache_control if status in (200, 206, 304) else "no-store"
                headers.append((b"cache-control", cache.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _enum_names(graphql_enum: Any) -> dict[str, str]:
    """Contract value -> the GraphQL enum value's name (``"16:9"`` -> ``"R16_9"``)."""
    return {member.value: member.name for member in graphql_enum}


def _kind(name: str, kind: object) -> dict:
    if isinstance(kind, Choice):
        return {"type": "choice", "options": list(kind.options), "graphql": _enum_names(enum_of(name))}
    if isinstance(kind, IntRange):
        return {"type": "int", "min": kind.low, "max": kind.high}
    if isinstance(kind, NumberRange):
        return {"type": "number", "min": kind.low, "max": kind.high}
    if isinstance(kind, Flag):
        return {"type": "flag"}
    if isinstance(kind, HexColor):
        return {"type": "color", "pattern": kind.pattern}
    # Before OverlayId, its base class: an environment is a built-in name or an environment
    # overlay's id, so the form offers both (a select), not an overlay picker of one layer.
    if isinstance(kind, EnvironmentRef):
        return {
            "type": "environment",
            "builtins": list(kind.builtins),
            "overlayLayer": OverlayLayer.ENVIRONMENT.value,
            "pattern": kind.pattern,
        }
    if isinstance(kind, OverlayId):
        return {"type": "overlay", "pattern": kind.pattern}
    raise TypeError(kind)


def _layer_limits(layer: OverlayLayer) -> dict[str, int]:
    """What the overlay upload form tells before a file is sent (the service enforces it)."""
    limits = {"maxBytes": max_overlay_bytes(layer.value)}
    if layer == OverlayLayer.ENVIRONMENT:
        limits |= {"maxWidth": MAX_ENVIRONMENT_WIDTH, "maxHeight": MAX_ENVIRONMENT_HEIGHT}
    return limits


@lru_cache(maxsize=1)
def contract_document() -> bytes:
    """The render-settings vocabulary the settings form is built from (dxgl.contract)."""
    doc = {
        "fields": {name: _kind(name, kind) for name, kind in SETTING_FIELDS.items()},
        # The enums of GraphQL answers outside renderSettings (Render.status, Overlay.layer/.alignment).
        "enums": {
            "RenderStatus": _enum_names(RenderStatusEnum),
            "OverlayLayer": _enum_names(OverlayLayerEnum),
            "Alignment": _enum_names(AlignmentEnum),
        },
        "defaults": {**BASE_DEFAULTS},
        "datasetDefaults": {**DATASET_DEFAULTS},
        "effectParams": {
            effect.value: [{"name": p.name, "min": p.low, "max": p.high, "default": p.default} for p in params]
            for effect, params in EFFECT_PARAMS.items()
        },
        "loopingEffects": sorted(e.value for e in LOOPING_EFFECTS),
        "qualities": {
            q.value: {
                "credits": t.credits,
                "freeCreditsMayPay": t.free_credits_may_pay,
                "codec": t.codec.value,
                "size": {a: list(output_size(q.value, a)) for a in SETTING_FIELDS["aspect"].options},
            }
            for q, t in QUALITY_TIERS.items()
        },
        "datasetTiers": {
            d.value: {
                "views": t.views,
                "size": t.size,
                "credits": t.credits,
                "freeCreditsMayPay": t.free_credits_may_pay,
            }
            for d, t in DATASET_TIERS.items()
        },
        "overlayRefs": [{"image": r.image_field, "align": r.align_field, "layer": r.layer.value} for r in OVERLAY_REFS],
        "overlayLayers": {layer.value: _layer_limits(layer) for layer in OverlayLayer},
        "videoOnlyFields": list(VIDEO_ONLY_FIELDS),
        # The camera height dxgl chooses without `elevation` (dxgl.contract.auto_elevation):
        # height / larger horizontal side below `below` -> `degrees`, else `upright`.
        "autoElevation": {
            "upright": UPRIGHT_ELEVATION_DEG,
            "steps": [{"below": bound, "degrees": angle} for bound, angle in FLAT_ELEVATION_STEPS],
        },
        "scopes": [s.value for s in contract.Scope],
    }
    return json.dumps(doc, separators=(",", ":")).encode()


async def index(request: Request) -> Response:
    response = FileResponse(STATIC_DIR / "index.html", media_type="text/html; charset=utf-8")
    response.headers.update(security_headers(request.headers.get("host")))
    response.headers["Cache-Control"] = REVALIDATE
    return response


async def contract_json(request: Request) -> Response:
    headers = security_headers(request.headers.get("host"))
    headers["Cache-Control"] = REVALIDATE
    return Response(contract_document(), media_type="application/json", headers=headers)


def _static(directory: Path, cache_control: str) -> ASGIApp:
    return GZipMiddleware(_Headers(StaticFiles(directory=directory), cache_control), minimum_size=1024)


def portal_routes() -> list[Route | Mount]:
    """The portal's routes, to mount at the root of the app (before nothing: they claim ``/`` and
    ``/portal`` only)."""
    return [
        Route("/", index, methods=["GET", "HEAD"]),
        Route("/portal/contract.json", contract_json, methods=["GET", "HEAD"]),
        Mount("/portal/vendor", app=_static(VENDOR_DIR, IMMUTABLE)),
        Mount("/portal", app=_static(STATIC_DIR, REVALIDATE)),
    ]
