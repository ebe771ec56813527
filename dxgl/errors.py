"""The error codes of the DXGL Public API, and the one exception type that carries them.

Codes beyond the documented table are listed in docs/api.md ("Error statuses") with their status.
"""

from __future__ import annotations

# code -> (HTTP status, default message)
ERROR_CODES: dict[str, tuple[int, str]] = {
    # The documented table (dxgl-public-api.md, "Errors").
    "unauthorized": (401, "Missing, invalid, or revoked token"),
    "token_expired": (401, "Token has expired"),
    "forbidden": (403, "Account suspended"),
    "insufficient_scope": (403, "Token lacks required scope"),
    "no_file": (400, "No file in upload request"),
    "invalid_format": (400, "File is not .glb, .gltf, or .zip"),
    "invalid_url": (400, "Malformed URL"),
    "url_required": (400, "Missing url field"),
    "invalid_settings": (400, "Invalid renderSettings value"),
    "model_id_required": (400, "Missing modelId field"),
    "file_too_large": (400, "File exceeds 100 MB limit"),
    "no_credits": (402, "No render credits remaining"),
    "model_not_found": (404, "Model not found"),
    "render_not_found": (404, "Render not found"),
    "renders_required": (400, "Missing or empty renders array"),
    "too_many": (400, "Batch exceeds 100 renders"),
    "upload_limit": (429, "Free upload limit reached"),
    "video_not_found": (404, "Video not yet available"),
    "poster_not_found": (404, "Poster not yet available"),
    "thumb_not_found": (404, "Thumbnail not yet available"),
    "file_not_found": (404, "Model file not found in storage"),
    "sha256_required": (400, "Missing sha256 field"),
    "timeout": (408, "URL download timed out"),
    "internal": (500, "Internal server error"),
    # Added by dxgl (docs/errors.md).
    "invalid_request": (400, "Invalid request"),
    "invalid_json": (400, "Request body is not valid JSON"),
    "invalid_model": (400, "The model file is damaged or unsafe to read"),
    "not_found": (404, "Not found"),
    "method_not_allowed": (405, "Method not allowed"),
    "invalid_state": (409, "The render is not in a state that allows this"),
    "range_not_satisfiable": (416, "Requested range not satisfiable"),
    "overlay_not_found": (404, "Overlay not found"),
    "service_unavailable": (503, "Service unavailable"),
}


class DxglError(Exception):
    """A failure a client can act on: a documented code, its HTTP status and a message."""

    def __init__(self, code: str, message: str | None = None, *, headers: dict[str, str] | None = None):
        if code not in ERROR_CODES:
            raise ValueError(f"unknown error code {code!r}")
        status, default = ERROR_CODES[code]
        self.code = code
        self.status = status
        self.message = message or default
        self.headers = headers or {}
        super().__init__(f"{code}: {self.message}")

    def envelope(self) -> dict:
        return {"error": {"code": self.code, "message": self.message, "status": self.status}}
