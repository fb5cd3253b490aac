"""Out-of-control notifications: channels, routing, digests, escalation and the outbox worker.

The service app enters `lifespan_hook(app)` at start-up (service.app looks it up here): it
reads `[alerting]` from linewatch.toml, starts the worker on `app.state.alerting` and mounts
the alerting API unless the app already has it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

__all__ = ["lifespan_hook"]


@asynccontextmanager
async def lifespan_hook(app: Any) -> AsyncIterator[None]:
    from service.alerting.routes import router
    from service.alerting.runtime import alerting_lifespan

    paths = {getattr(route, "path", None) for route in app.router.routes}
    if "/api/v1/alarms/{alarm_id}/notifications" not in paths:
        app.include_router(router)
        app.openapi_schema = None  # regenerate with the alerting paths
    async with alerting_lifespan(app.state.linewatch) as alerting:
        app.state.alerting = alerting
        try:
            yield
        finally:
            app.state.alerting = None
