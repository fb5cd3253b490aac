"""Dashboard settings: one frozen object handed to :func:`dashboard.app.create_app`.

Plain dataclass (no pydantic-settings): the dashboard has a handful of knobs and the CLI passes
them explicitly, so there is no environment parsing to validate here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, tzinfo
from zoneinfo import ZoneInfo

LANGUAGES = ("en", "zh")


@dataclass(frozen=True)
class DashboardSettings:
    """Knobs of one dashboard process.

    ``chart_refresh_ms`` is the live-update poll of the chart page: one second keeps a new
    violation on screen within two seconds of its ingest (poll period + one round trip).
    ``max_points`` is what a chart shows at most; the service thins longer series (keeping every
    flagged point) and the dashboard thins again if a service answers with more.
    ``full_refresh_s``: live charts append new points; a full reload (capability, histogram)
    happens this often.
    """

    api_url: str = "http://127.0.0.1:8000"
    chart_refresh_ms: int = 1000
    overview_refresh_ms: int = 5000
    alarms_refresh_ms: int = 5000
    max_points: int = 2000
    full_refresh_s: float = 300.0
    timeout_s: float = 10.0
    timezone: str | None = None
    kiosk_seconds: int = 20
    default_lang: str = "en"
    title: str = "Linewatch"

    def __post_init__(self) -> None:
        if not self.api_url.startswith(("http://", "https://")):
            raise ValueError(f"api_url must start with http:// or https://, got {self.api_url!r}")
        if self.default_lang not in LANGUAGES:
            raise ValueError(f"default_lang must be one of {LANGUAGES}, got {self.default_lang!r}")
        if self.chart_refresh_ms < 100:
            raise ValueError("chart_refresh_ms must be at least 100")
        if self.max_points < 100:
            raise ValueError("max_points must be at least 100")
        if self.kiosk_seconds < 3:
            raise ValueError("kiosk_seconds must be at least 3")
        if self.timezone is not None:
            ZoneInfo(self.timezone)  # raises on an unknown zone name

    @property
    def tz(self) -> tzinfo:
        """Zone the screens show times in: the configured one, else the host's local zone."""
        if self.timezone is not None:
            return ZoneInfo(self.timezone)
        from datetime import datetime

        local = datetime.now().astimezone().tzinfo
        return local if local is not None else UTC
