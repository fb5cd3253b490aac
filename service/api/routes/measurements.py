"""Ingest (`POST /api/v1/measurements`, the contract), CSV backfill and reading measurements."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from service.api.bodies import json_batch, read_body
from service.api.deps import Ctx, Operator
from service.api.errors import ApiError, invalid, not_found
from service.api.schemas.common import Timestamp, _utc
from service.api.schemas.measurements import IngestAnswer, MeasurementBatch, MeasurementPublic
from service.csv_import import parse_csv
from service.ingest_fast import decode_typed

router = APIRouter(prefix="/api/v1", tags=["measurements"])

BATCH_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": MeasurementBatch.model_json_schema()}},
    }
}
CSV_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {
                "schema": {"type": "string"},
                "example": (
                    "characteristic,ts,value,lot\nline1.op20.bore,2026-11-26T10:00:00Z,74.01,L1\n"
                ),
            }
        },
    }
}


@router.post(
    "/measurements",
    response_model=IngestAnswer,
    summary="Ingest a batch of measurements (the ingest contract)",
    openapi_extra=BATCH_SCHEMA,
)
async def ingest(request: Request, ctx: Ctx, user: Operator) -> dict[str, Any]:
    body = await read_body(request)

    def work() -> dict[str, Any]:
        limit = ctx.settings.max_batch
        return ctx.ingest_body(
            lambda: json_batch(body, "measurements", limit),
            lambda: decode_typed(body, limit),
        ).public()

    return await run_in_threadpool(work)


@router.post(
    "/measurements.csv",
    response_model=IngestAnswer,
    summary="Backfill: the same contract with a CSV body (header: characteristic, ts, value, ...)",
    openapi_extra=CSV_SCHEMA,
)
async def ingest_csv(request: Request, ctx: Ctx, user: Operator) -> dict[str, Any]:
    body = await read_body(request)

    def work() -> dict[str, Any]:
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise invalid("body", "CSV must be UTF-8") from None
        try:
            records = parse_csv(text)
        except ValueError as exc:
            raise invalid("body", str(exc)) from None
        if len(records) > ctx.settings.max_batch:
            raise ApiError(413, f"at most {ctx.settings.max_batch} rows per upload")
        return ctx.ingest(records).public()

    return await run_in_threadpool(work)


@router.get(
    "/characteristics/{key}/measurements",
    response_model=list[MeasurementPublic],
    summary="Stored measurements of a characteristic, in arrival order",
)
def list_measurements(
    key: str,
    ctx: Ctx,
    user: Operator,
    from_: Annotated[Timestamp | None, Query(alias="from")] = None,
    to: Annotated[Timestamp | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 1000,
) -> list[dict[str, Any]]:
    with ctx.store.transaction(readonly=True) as tx:
        char = ctx.store.repo.get_characteristic(tx, key)
        if char is None:
            raise not_found(f"characteristic {key!r}")
        rows = ctx.store.repo.window(tx, char.id, _utc(from_), _utc(to), limit)
    return [
        {
            "id": p.id,
            "characteristic": key,
            "ts": p.ts,
            "value": p.value,
            "subgroup": p.subgroup,
            "lot": p.lot,
            "limit_version": p.limit_version,
            "point_no": p.point_no,
            "quality": p.quality or "good",
        }
        for p in rows
    ]
