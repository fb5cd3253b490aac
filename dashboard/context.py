"""What every page needs from the app: the API client, the settings, paths under the app's base
URL, and the browser session (token, role, language) as the callbacks receive it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import dash

from dashboard.api import ApiClient
from dashboard.i18n import normalize_lang
from dashboard.settings import DashboardSettings

WINDOWS: dict[str, timedelta | None] = {
    "1h": timedelta(hours=1),
    "8h": timedelta(hours=8),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "all": None,
}
DEFAULT_WINDOW = "24h"


def window_start(window: str | None, now: datetime | None = None) -> str | None:
    """ISO start of a relative window (None = all history)."""
    span = WINDOWS.get(window or DEFAULT_WINDOW, WINDOWS[DEFAULT_WINDOW])
    if span is None:
        return None
    start = (now or datetime.now(UTC)) - span
    return start.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Session:
    """The browser session as stored in the ``session`` dcc.Store."""

    token: str | None
    name: str | None
    role: str | None

    @classmethod
    def of(cls, data: Mapping[str, Any] | None) -> Session:
        data = data or {}
        return cls(data.get("token"), data.get("name"), data.get("role"))

    @property
    def signed_in(self) -> bool:
        return bool(self.token)


@dataclass(frozen=True)
class AppContext:
    app: dash.Dash
    api: ApiClient
    settings: DashboardSettings
    live: Any = None  # dashboard.live.LiveCharts, shared by the chart page and the kiosk

    def client(self, session: Mapping[str, Any] | None) -> ApiClient:
        return self.api.with_token(Session.of(session).token)

    def href(self, path: str) -> str:
        """A path under the app's base URL (the demo mounts the dashboard under a prefix)."""
        return self.app.get_relative_path(path)

    def strip(self, pathname: str | None) -> str:
        """Route path of a browser pathname, without the base prefix, no slashes at the ends."""
        if not pathname:
            return ""
        stripped = self.app.strip_relative_path(pathname)
        return (stripped or "").strip("/")

    def lang(self, value: str | None) -> str:
        return normalize_lang(value or self.settings.default_lang)
