"""Process settings: every field can be set as ``SWITCHYARD_<NAME>`` in the environment, which wins over
the config file's ``server`` section (``config.server_options``), which wins over the defaults here."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIN_ADMIN_KEY_CHARS = 24


class Settings(BaseSettings):
    """Process settings. Every field can be set as ``SWITCHYARD_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="SWITCHYARD_", extra="ignore")

    @field_validator("admin_key")
    @classmethod
    def _strong_admin_key(cls, key: str | None) -> str | None:
        if key is not None and len(key) < MIN_ADMIN_KEY_CHARS:
            raise ValueError(
                f"SWITCHYARD_ADMIN_KEY must be at least {MIN_ADMIN_KEY_CHARS} characters (it may do everything); "
                "make one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        return key

    config: Path | None = Field(default=None, description="YAML config file; none = embedded defaults")
    host: str = "127.0.0.1"
    port: int = 8080
    db_path: Path = Path("switchyard.db")
    store: str = Field(
        default="sqlite", description="the ledger and key store: sqlite (at db_path) or postgres (at postgres_dsn)"
    )
    postgres_dsn: str | None = Field(
        default=None,
        description="store postgres: the server's libpq URL or DSN; it may hold the password, so it belongs in the "
        "environment (SWITCHYARD_POSTGRES_DSN), the file's server.postgres_dsn only without one",
    )
    postgres_pool_size: int = Field(
        default=4, ge=1, le=64, description="store postgres: connections the process keeps to the server (at most)"
    )
    workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="worker processes serving the one port, each a full gateway (serve --workers); see the README",
    )
    admin_key: str | None = Field(
        default=None, description="the gateway admin's key: at least 24 characters; unset: no admin key"
    )
    max_body_bytes: int = 4 * 1024 * 1024
    auth_failures_per_minute: int = Field(
        default=30, ge=1, description="failed authentications one client address may make in a minute; then 429"
    )
    max_connections: int = Field(
        default=1000, ge=1, description="open connections (and requests) per process; past it, 503 at once"
    )
    ledger_flush_interval: float = 0.1  # small batches: shorter GIL bursts in the writer thread
    ledger_batch_size: int = 500
    log_level: str = "info"
    metrics_token: str | None = Field(
        default=None, description="bearer token that may read GET /metrics (as may keys allowed metrics:read)"
    )
    metrics_public: bool = Field(
        default=False, description="GET /metrics without any credential (only where the port is private)"
    )
    otlp_endpoint: str | None = Field(
        default=None, description="OTLP/HTTP endpoint for traces (else OTEL_EXPORTER_OTLP_ENDPOINT); unset: off"
    )
    dashboard_secret: str | None = Field(
        default=None, description="signs dashboard session cookies; unset: a random one per process"
    )
    redis_url: str | None = Field(
        default=None, description="Redis for budget counters shared by replicas; unset: in-process counters"
    )
    redis_timeout: float = Field(
        default=2.0, gt=0, description="seconds a Redis operation may take before budgeted requests get 503"
    )
    responses_store: bool = Field(
        default=False,
        description="keep POST /v1/responses answers (store: true) so previous_response_id can continue them",
    )
    responses_ttl_days: float = Field(default=30.0, gt=0, description="days a stored response is kept")
