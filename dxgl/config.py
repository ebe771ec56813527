"""Every setting of the service, read once from ``DXGL_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict

MIB = 1024 * 1024


class Settings(BaseSettings):
    """Service settings; each field maps to ``DXGL_<FIELD>`` (case-insensitive)."""

    model_config = SettingsConfigDict(env_prefix="DXGL_", extra="ignore")

    data_dir: Path = Path("./dxgl-data")
    # Empty means: a SQLite file inside data_dir.
    database_url: str = ""
    # Empty means: the embedded in-process runner and in-process events.
    redis_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    # The address browsers use (docs/portal.md): sign-in links, the Origin every cookie-authenticated
    # request must carry, the cookie's Secure flag (https). Empty means http://{host}:{port}.
    public_url: str = ""
    # Behind a reverse proxy: take the scheme and host browsers used from X-Forwarded-Proto and
    # X-Forwarded-Host (only a proxy you run may set them). Off: those headers are ignored.
    trust_proxy: bool = False
    # A portal session ends after this long without a request (last use is recorded at most once a
    # minute), and in any case 7 days after sign-in (dxgl.services.sessions.MAX_AGE).
    session_idle_seconds: float = 12 * 3600.0
    # 100 MB as 100 x 1024 x 1024 bytes (CLARIFICATIONS.md), enforced while reading.
    upload_limit_bytes: int = 100 * MIB
    # Models an account that has only ever had free credits may upload (429 upload_limit).
    free_upload_limit: int = 10
    free_credits_for_new_accounts: int = 2
    # The embedded default renders in the API process; off leaves queued renders pending there
    # (the API tests use that; a Redis deployment ignores it: its workers render).
    run_renders_in_process: bool = True
    # Caps on render size / length so tests and previews stay small; 0 = no cap.
    render_max_size: int = 0
    render_max_length: int = 0
    render_max_views: int = 0  # caps a dataset's view count
    # Every new upload (and URL ingest) also makes a free system preview: a small turntable video,
    # unwatermarked, flagged isSystemPreview, rendered before other queued work. Its failure because
    # of the file marks the model broken (docs/api.md, "System previews"). 0 turns them off.
    system_preview: bool = True
    # A worker renews its lease on a render while it works; a lease that runs out means the
    # worker is gone and the sweeper queues the render again.
    job_lease_seconds: float = 120.0
    sweeper_interval_seconds: float = 30.0
    # The longest legitimate render: 15 s of 4K ProRes on CPU takes well under an hour here.
    job_timeout_seconds: float = 2 * 3600
    # Attempts before a render that keeps getting lost is given up (error + refund).
    max_render_attempts: int = 3
    ingest_timeout_seconds: float = 120.0
    # Self-hosted networks may allow URL ingest from private addresses; off by default.
    ingest_allow_private: bool = False
    log_level: str = "info"

    # --- hardening: one client never slows, locks or crashes the service for the others ---------
    # A request body (JSON) must arrive whole within this; an upload may not stall for longer
    # between two chunks. Past it: 408 timeout. Bodies are read before any transaction opens.
    body_timeout_seconds: float = 30.0
    # SQLite: how long a transaction may wait for the write lock (retried with jitter) before the
    # request answers 503 service_unavailable with Retry-After.
    db_busy_seconds: float = 10.0
    # GraphQL: an operation deeper, with more aliases or costlier than this is query_too_complex.
    graphql_max_depth: int = 10
    graphql_max_aliases: int = 30
    graphql_max_cost: int = 5000
    # An open websocket re-checks its credentials at least this often (and on every operation).
    ws_recheck_seconds: float = 5.0
    # Decoded texture memory per model: the sum of texels over all images, mip levels included.
    texture_budget_mpx: float = 256.0
    # The render child's resident memory limit; 0 = derived from the machine (see docs/rendering.md).
    render_memory_limit_bytes: int = 0
    # Temporary uploads and render work folders older than this are removed at start and by the
    # sweeper (the longest legitimate job plus a margin); 0 = job_timeout_seconds + 1 hour.
    temp_max_age_seconds: float = 0.0

    # --- scale-out (docs/deploy.md) ----------------------------------------------------------------
    # Where blobs live: unset = the local folder (data_dir/files); s3://BUCKET[/PREFIX] = an
    # S3-compatible store, configured by the AWS SDKs' own variables (AWS_ACCESS_KEY_ID,
    # AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT_URL).
    storage_url: str = ""
    # Asset downloads: "" streams through the API; "presigned" answers 302 to a short-lived URL.
    storage_redirect: Literal["", "presigned"] = ""
    presigned_url_seconds: float = 300.0
    # A worker's local copy of the models it renders (least recently used evicted past the size).
    cache_dir: Path | None = None
    cache_max_bytes: int = 10 * 1024 * MIB
    # Which GPU an EGL device enumeration picks (Mesa's llvmpipe when there is none).
    gpu_index: int = 0
    # Renders at once per worker; 0 = chosen at start (1 on llvmpipe, more on a GPU).
    worker_concurrency: int = 0
    # A worker counts as seen when its heartbeat is younger than this (/v1/health, /metrics).
    worker_heartbeat_seconds: float = 60.0

    # --- integrations (docs/webhooks.md, docs/api.md) ---------------------------------------------
    # First webhook retry after this many seconds, doubling each time, for about a day.
    webhook_retry_base_seconds: float = 10.0
    webhook_timeout_seconds: float = 10.0
    # Self-hosted networks may deliver webhooks to private addresses; off by default.
    webhook_allow_private: bool = False
    # Requests per second (and burst) per token, or per account for portal sessions; 0 = off.
    rate_limit_rps: float = 50.0
    rate_limit_burst: int = 200
    # The stricter bucket for uploads and URL ingest: per minute.
    rate_limit_uploads_per_minute: float = 60.0
    # The service the stdio MCP server (`dxgl mcp`) talks to, and its token (DXGL_TOKEN).
    api_url: str = "http://127.0.0.1:8000"
    token: str = ""

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'dxgl.sqlite3').resolve()}"

    @property
    def resolved_public_url(self) -> str:
        """DXGL_PUBLIC_URL without a trailing slash, or ``http://{host}:{port}``."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
