"""One router module per resource; `ROUTERS` is the order they are mounted in."""

from __future__ import annotations

from fastapi import APIRouter


def routers() -> list[APIRouter]:
    from service.api.routes import (
        alarms,
        audit,
        characteristics,
        charts,
        health,
        limits,
        measurements,
        plant,
        stream,
        users,
    )
    from service.quality.routes import routers as quality_routers

    return [
        health.router,
        measurements.router,
        characteristics.router,
        limits.router,
        charts.router,
        alarms.router,
        plant.router,
        users.router,
        audit.router,
        stream.router,
        *quality_routers(),
    ]
