"""Cost of poor quality: time series and top movers (manager), yield rates (any role)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from service.api.deps import Ctx, Manager, Operator
from service.quality import queries
from service.quality.export import respond
from service.quality.routes.params import (
    Filter,
    From,
    OutputFormat,
    RecordFilters,
    To,
    filters,
    require_cost_role,
    window,
)
from service.quality.schemas import MoversAnswer, QualityCostAnswer, RatesAnswer

router = APIRouter(prefix="/api/v1", tags=["quality: cost"])

By = Literal["line", "site", "product", "defect_code", "category", "disposition", "station"]
COST_COLUMNS = [
    "bucket",
    "key",
    "name",
    "currency",
    "records",
    "quantity",
    "rework_minutes",
    "cost",
    "uncosted",
]
MOVER_COLUMNS = ["key", "name", "current", "previous", "delta", "change"]
RATE_COLUMNS = [
    "bucket",
    "key",
    "name",
    "good",
    "nonconforming",
    "scrapped",
    "reworked",
    "customer_returns",
    "total",
    "fpy",
    "ppm",
    "scrap_rate",
    "rework_rate",
]


@router.get(
    "/quality-cost",
    response_model=QualityCostAnswer,
    summary="Cost of poor quality per calendar bucket and line, product, defect code, ...",
)
def quality_cost(
    ctx: Ctx,
    user: Manager,
    bucket: queries.Bucket = "week",
    by: By = "line",
    from_: From = None,
    to: To = None,
    site: Filter = None,
    line: Filter = None,
    station: Filter = None,
    product: Filter = None,
    defect_code: Filter = None,
    category: Filter = None,
    disposition: Filter = None,
    format: OutputFormat = "json",
) -> Any:
    q = queries.Query(
        window(from_, to),
        by=by,
        bucket=bucket,
        filters=filters(
            site=site,
            line=line,
            station=station,
            product=product,
            defect_code=defect_code,
            category=category,
            disposition=disposition,
        ),
    )
    with ctx.store.transaction(readonly=True) as tx:
        body = queries.quality_cost(tx, ctx.store.repo, q)
    return respond(
        format, body, rows=body["rows"], columns=COST_COLUMNS, name=f"quality-cost_{bucket}_{by}"
    )


@router.get(
    "/quality-cost/movers",
    response_model=MoversAnswer,
    summary="Top movers: largest change against the previous period of the same length",
)
def movers(
    ctx: Ctx,
    user: Operator,
    chosen: RecordFilters,
    by: By = "defect_code",
    measure: queries.Measure = "cost",
    from_: From = None,
    to: To = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 10,
    format: OutputFormat = "json",
) -> Any:
    require_cost_role(user, measure)
    q = queries.Query(
        window(from_, to),
        by=by,
        filters=chosen,
    )
    with ctx.store.transaction(readonly=True) as tx:
        body = queries.movers(tx, ctx.store.repo, q, measure, limit)
    return respond(
        format, body, rows=body["items"], columns=MOVER_COLUMNS, name=f"movers_{by}_{measure}"
    )


@router.get(
    "/quality-rates",
    response_model=RatesAnswer,
    summary="First-pass yield, PPM defective, scrap and rework rates per bucket",
)
def quality_rates(
    ctx: Ctx,
    user: Operator,
    bucket: queries.Bucket = "week",
    by: Literal["line", "site", "product"] = "line",
    from_: From = None,
    to: To = None,
    site: Filter = None,
    line: Filter = None,
    product: Filter = None,
    format: OutputFormat = "json",
) -> Any:
    q = queries.Query(
        window(from_, to),
        by=by,
        bucket=bucket,
        filters=filters(site=site, line=line, product=product),
    )
    with ctx.store.transaction(readonly=True) as tx:
        body = queries.rates(tx, ctx.store.repo, q)
    return respond(
        format, body, rows=body["rows"], columns=RATE_COLUMNS, name=f"quality-rates_{bucket}_{by}"
    )
