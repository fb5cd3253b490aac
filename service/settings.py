"""Service settings: environment variables with the prefix ``LINEWATCH_``.

Nothing is read at import time: `Settings()` reads the environment when called, and the app is
built by ``create_app(settings)``. As in the FastAPI full-stack template, a default secret is
accepted only in development: outside it, start-up refuses (a token hash keyed by a published
secret protects nothing).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET = "changethis"

DEFAULT_CAUSE_CODES = (
    "tool-wear",
    "tool-breakage",
    "material",
    "setup",
    "fixture",
    "machine",
    "measurement-system",
    "method",
    "operator",
    "environment",
    "unknown",
)
DEFAULT_ACTION_CODES = (
    "adjusted",
    "tool-changed",
    "repaired",
    "recalibrated",
    "material-changed",
    "parts-quarantined",
    "line-stopped",
    "retrained",
    "no-action",
)


class Settings(BaseSettings):
    """Every option of the service; see deploy/linewatch.example.toml for the declarative part."""

    model_config = SettingsConfigDict(env_prefix="LINEWATCH_", extra="ignore")

    environment: Literal["development", "production"] = "development"
    database_url: str | None = Field(
        default=None,
        description="postgresql://... or sqlite:///path; unset means SQLite in ./linewatch.db",
    )
    secret_key: SecretStr = SecretStr(DEFAULT_SECRET)
    # Tokens a container deployment hands out through its .env file: ensured at every start
    # (user "admin" with role admin, user "collector" with role operator), never logged.
    bootstrap_admin_token: SecretStr | None = None
    bootstrap_collector_token: SecretStr | None = None
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    # storage
    pool_min_size: int = Field(default=1, ge=1)
    pool_max_size: int = Field(default=8, ge=1)
    timescale: Literal["auto", "off"] = "auto"
    timescale_compress_after: str | None = "7 days"
    timescale_retention: str | None = None
    migrate_on_start: bool = True

    # ingest
    max_batch: int = Field(default=200_000, ge=1)
    max_future_skew_seconds: float = Field(default=300.0, ge=0)
    naive_timestamps: Literal["reject", "utc"] = "reject"

    # evaluation
    checkpoint_every: int = Field(default=500, ge=1, description="points between state snapshots")
    monitor_cache_size: int = Field(default=20_000, ge=1)

    # alarms
    cause_codes: list[str] = Field(default_factory=lambda: list(DEFAULT_CAUSE_CODES))
    action_codes: list[str] = Field(default_factory=lambda: list(DEFAULT_ACTION_CODES))
    strict_alarm_codes: bool = Field(
        default=False,
        description="true: an acknowledgement's cause and action must be configured codes; "
        "false: a text that names no code is kept as free text",
    )

    # declarative configuration (characteristics, plant hierarchy, code lists)
    config_file: Path | None = Path("linewatch.toml")

    # background workers started with the app ("module:callable" returning a lifespan hook)
    lifespan_hooks: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> Settings:
        if self.secret_key.get_secret_value() == DEFAULT_SECRET:
            message = (
                'LINEWATCH_SECRET_KEY is "changethis"; set a long random value '
                "(python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
            if self.environment != "development":
                raise ValueError(message)
        if self.pool_min_size > self.pool_max_size:
            raise ValueError("pool_min_size must not exceed pool_max_size")
        return self

    @property
    def uses_default_secret(self) -> bool:
        """True in development with the published default secret (logged as a warning at start)."""
        return self.secret_key.get_secret_value() == DEFAULT_SECRET

    @property
    def resolved_database_url(self) -> str:
        """The database URL, SQLite in the working directory when none is configured."""
        return self.database_url or f"sqlite:///{Path.cwd() / 'linewatch.db'}"
