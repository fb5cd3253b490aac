"""The quality API: one router per resource, mounted by `service.api.routes.routers`."""

from __future__ import annotations

from fastapi import APIRouter


def routers() -> list[APIRouter]:
    from service.quality.routes import (
        cost_models,
        defect_codes,
        defects,
        dispositions,
        good_units,
        quality_cost,
    )

    return [
        defects.router,
        good_units.router,
        defect_codes.router,
        dispositions.router,
        cost_models.router,
        quality_cost.router,
    ]
