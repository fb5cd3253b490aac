"""Nonconformance records: record (operator), read, Pareto, SPC links, delete (engineer)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response, status
from starlette.concurrency import run_in_threadpool

from service.api.bodies import read_body
from service.api.deps import Ctx, Engineer, Operator
from service.domain import role_at_least
from service.quality import queries, records, spc_links
from service.quality.export import respond
from service.quality.recording import Recorder
from service.quality.routes.params import (
    Filter,
    From,
    OutputFormat,
    RecordFilters,
    RecordId,
    To,
    batch,
    filters,
    require_cost_role,
    window,
)
from service.quality.schemas import (
    BatchAnswer,
    DefectBatch,
    DefectPublic,
    ParetoAnswer,
    SpcCoverageAnswer,
    SpcLinksAnswer,
)

router = APIRouter(prefix="/api/v1/defects", tags=["quality: defects"])

BATCH_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": DefectBatch.model_json_schema()}},
    }
}
RECORD_COLUMNS = list(DefectPublic.model_fields)
PARETO_COLUMNS = [
    "key",
    "name",
    "value",
    "share",
    "cumulative_share",
    "records",
    "quantity",
    "rework_minutes",
    "cost",
    "uncosted",
]
ParetoBy = Literal["defect_code", "category", "line", "site", "product", "disposition", "station"]


@router.post(
    "",
    response_model=BatchAnswer,
    summary="Record a batch of nonconformances (each record accepted or rejected on its own)",
    openapi_extra=BATCH_SCHEMA,
)
async def record_defects(request: Request, ctx: Ctx, user: Operator) -> dict[str, Any]:
    body = await read_body(request)

    def work() -> dict[str, Any]:
        items = batch(body, "defects", ctx.settings.max_batch)
        return (
            Recorder.for_settings(ctx.store, ctx.settings).record_defects(items, user.name).public()
        )

    return await run_in_threadpool(work)


@router.get("", response_model=list[DefectPublic], summary="Defect records, oldest first")
def list_defects(
    ctx: Ctx,
    user: Operator,
    from_: From = None,
    to: To = None,
    site: Filter = None,
    line: Filter = None,
    station: Filter = None,
    product: Filter = None,
    defect_code: Filter = None,
    category: Filter = None,
    disposition: Filter = None,
    lot: Filter = None,
    serial: Filter = None,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 1000,
    offset: Annotated[int, Query(ge=0, le=10**12)] = 0,
    format: OutputFormat = "json",
) -> Any:
    span = window(from_, to)
    chosen = filters(
        site=site,
        line=line,
        station=station,
        product=product,
        defect_code=defect_code,
        category=category,
        disposition=disposition,
        lot=lot,
        serial=serial,
    )
    with ctx.store.transaction(readonly=True) as tx:
        rows = records.list_records(tx, span.start, span.end, chosen, limit=limit, offset=offset)
    if not role_at_least(user.role, "manager"):
        rows = [records.hide_cost(r) for r in rows]
    return respond(format, rows, rows=rows, columns=RECORD_COLUMNS, name="defects")


@router.get(
    "/pareto",
    response_model=ParetoAnswer,
    summary="Pareto of defects: items by decreasing count (units), records, cost or minutes",
)
def pareto(
    ctx: Ctx,
    user: Operator,
    chosen: RecordFilters,
    by: ParetoBy = "defect_code",
    measure: queries.Measure = "count",
    from_: From = None,
    to: To = None,
    limit: Annotated[
        int | None, Query(ge=1, le=10_000, description="Items kept; rest in other")
    ] = None,
    format: OutputFormat = "json",
) -> Any:
    require_cost_role(user, measure)
    q = queries.Query(
        window(from_, to),
        by=by,
        filters=chosen,
    )
    with ctx.store.transaction(readonly=True) as tx:
        body = queries.pareto(tx, ctx.store.repo, q, measure, limit)
    return respond(
        format, body, rows=body["items"], columns=PARETO_COLUMNS, name=f"pareto_{by}_{measure}"
    )


@router.get(
    "/spc-warnings",
    response_model=SpcCoverageAnswer,
    summary="Per line: the share of records that an SPC alarm preceded (did the charts warn?)",
)
def spc_warnings(
    ctx: Ctx,
    user: Operator,
    from_: From = None,
    to: To = None,
    site: Filter = None,
    line: Filter = None,
    window_hours: Annotated[float, Query(gt=0, le=24 * 90)] = 24.0,
    format: OutputFormat = "json",
) -> Any:
    span = window(from_, to)
    with ctx.store.transaction(readonly=True) as tx:
        chosen = queries.resolve(tx, filters(site=site, line=line))
        line_ids = sorted(chosen["line_id"]) if "line_id" in chosen else None
        body = spc_links.warning_coverage(
            tx, span.start, span.end, timedelta(hours=window_hours), line_ids
        )
    return respond(
        format,
        body,
        rows=body["rows"],
        columns=["line", "records", "warned", "share"],
        name="spc-warnings",
    )


@router.get("/{defect_id}", response_model=DefectPublic)
def get_defect(defect_id: RecordId, ctx: Ctx, user: Operator) -> dict[str, Any]:
    with ctx.store.transaction(readonly=True) as tx:
        record = records.get_record(tx, defect_id)
    return record if role_at_least(user.role, "manager") else records.hide_cost(record)


@router.delete("/{defect_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def delete_defect(
    defect_id: RecordId,
    ctx: Ctx,
    user: Engineer,
    reason: Annotated[
        str | None, Query(max_length=2000, description="Kept in the audit log")
    ] = None,
) -> Response:
    with ctx.store.transaction() as tx:
        records.delete_record(tx, ctx.store.repo, defect_id, actor=user.name, reason=reason)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{defect_id}/spc-alarms",
    response_model=SpcLinksAnswer,
    summary="SPC alarms on the same line or lot that preceded this record within the window",
)
def spc_alarms(
    defect_id: RecordId,
    ctx: Ctx,
    user: Operator,
    window_hours: Annotated[float, Query(gt=0, le=24 * 90)] = 24.0,
) -> dict[str, Any]:
    with ctx.store.transaction(readonly=True) as tx:
        return spc_links.preceding_alarms(tx, defect_id, timedelta(hours=window_hours))
