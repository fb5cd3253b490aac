"""Good-unit counts (the denominator of FPY, PPM and the scrap and rework rates)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from service.api.bodies import read_body
from service.api.deps import Ctx, Operator
from service.quality.recording import Recorder
from service.quality.routes.params import batch
from service.quality.schemas import BatchAnswer, GoodUnitsBatch

router = APIRouter(prefix="/api/v1/good-units", tags=["quality: good units"])


@router.post(
    "",
    response_model=BatchAnswer,
    summary="Record good-unit counts per line and product (from counters or people)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": GoodUnitsBatch.model_json_schema()}},
        }
    },
)
async def record_good_units(request: Request, ctx: Ctx, user: Operator) -> dict[str, Any]:
    body = await read_body(request)

    def work() -> dict[str, Any]:
        items = batch(body, "good_units", ctx.settings.max_batch)
        return (
            Recorder.for_settings(ctx.store, ctx.settings)
            .record_good_units(items, user.name)
            .public()
        )

    return await run_in_threadpool(work)
