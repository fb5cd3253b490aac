"""Chart data, capability and time-bucket statistics of a characteristic, and violations."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from service.api.deps import Ctx, Operator
from service.api.errors import invalid, not_found
from service.api.routes.characteristics import load
from service.api.schemas.common import Timestamp, _utc
from service.chart_data import ChartBuilder

router = APIRouter(prefix="/api/v1", tags=["charts"])

From = Annotated[Timestamp | None, Query(alias="from", description="ISO 8601; UTC if no zone")]
To = Annotated[Timestamp | None, Query(description="ISO 8601, exclusive; UTC if no zone")]
CHART_EXAMPLE = {
    "chart": "imr",
    "center": 10.0,
    "sigma": 0.1,
    "points": [
        {
            "i": 0,
            "n": 1,
            "stat": 10.4,
            "lcl": 9.7,
            "ucl": 10.3,
            "violations": ["WE1"],
            "ts": "2026-11-26T10:00:00+00:00",
            "lot": "L1",
            "limit_version": 1,
            "point_no": 17,
            "alarm_id": 3,
            "alarms": {"WE1": 3},
        }
    ],
}


def _window(from_: datetime | None, to: datetime | None) -> tuple[datetime | None, datetime | None]:
    start, end = _utc(from_), _utc(to)
    if start is not None and end is not None and not start < end:
        raise invalid("from", "must be before to")
    return start, end


@router.get(
    "/characteristics/{key}/chart",
    summary="The CLI chart JSON plus ts, lot, limit_version and alarm_id per point",
    responses={200: {"content": {"application/json": {"example": CHART_EXAMPLE}}}},
)
def get_chart(
    key: str,
    ctx: Ctx,
    user: Operator,
    from_: From = None,
    to: To = None,
    limit: Annotated[int | None, Query(ge=1, le=1_000_000, description="Last N points")] = None,
    max_points: Annotated[
        int | None,
        Query(ge=10, le=1_000_000, description="Down-sample (min/max per bucket, flags kept)"),
    ] = None,
) -> Response:
    start, end = _window(from_, to)
    repo = ctx.store.repo
    with ctx.store.transaction(readonly=True) as tx:
        char = load(tx, repo, key)
        body = ChartBuilder(tx, repo, char).build(start, end, limit, max_points)
    return Response(json.dumps(body, allow_nan=False, default=str), media_type="application/json")


@router.get("/characteristics/{key}/capability", summary="Capability over a window")
def get_capability(
    key: str, ctx: Ctx, user: Operator, from_: From = None, to: To = None
) -> dict[str, Any]:
    import spc

    start, end = _window(from_, to)
    repo = ctx.store.repo
    with ctx.store.transaction(readonly=True) as tx:
        char = load(tx, repo, key)
        if char.chart in ("p", "np", "c", "u"):
            raise invalid("key", "capability applies to variables charts, not attribute charts")
        if char.lsl is None and char.usl is None:
            raise invalid("key", f"{key!r} has no specification limits (lsl, usl)")
        values = [p.value for p in repo.window(tx, char.id, start, end) if p.quality != "bad"]
        current = repo.current_version_number(tx, char.id)
        lv = repo.get_limit_version(tx, char.id, current) if current is not None else None
        sigma = lv.sigma if lv is not None else None
        sigma_source = f"limit version {current}" if lv is not None else "estimated from window"
        if sigma is None:
            body = ChartBuilder(tx, repo, char).build(start, end, None, None)
            sigma = body.get("sigma")
    if len(values) < 2:
        raise invalid("from", f"the window holds {len(values)} value(s); at least 2 are needed")
    if not sigma or not sigma > 0:
        raise invalid("from", "no within sigma: approve limits or widen the window")
    try:
        result = spc.capability(
            values, sigma_within=sigma, lsl=char.lsl, usl=char.usl, target=char.target
        ).to_dict()
    except spc.SpcError as exc:
        raise invalid(getattr(exc, "argument", None) or "from", str(exc)) from None
    result.update(
        characteristic=key,
        lsl=char.lsl,
        usl=char.usl,
        target=char.target,
        sigma_source=sigma_source,
        **{"from": start, "to": end},
    )
    return result


@router.get("/characteristics/{key}/stats", summary="Count, mean, min, max, stddev per bucket")
def get_stats(
    key: str,
    ctx: Ctx,
    user: Operator,
    from_: From = None,
    to: To = None,
    bucket: Annotated[int, Query(ge=1, le=31 * 86400, description="Bucket width, s")] = 3600,
) -> list[dict[str, Any]]:
    start, end = _window(from_, to)
    try:
        end = end or datetime.now(UTC) + timedelta(days=1)
        start = start or end - timedelta(days=7)
    except OverflowError:
        raise invalid("to", "timestamp out of range") from None
    repo = ctx.store.repo
    with ctx.store.transaction(readonly=True) as tx:
        char = load(tx, repo, key)
        reference = (
            char.target
            if char.target is not None
            else (
                (char.lsl + char.usl) / 2 if char.lsl is not None and char.usl is not None else 0.0
            )
        )
        buckets = repo.bucket_stats(tx, char.id, start, end, float(bucket), reference)
    return [
        {"start": b.start, "n": b.n, "mean": b.mean, "min": b.min, "max": b.max, "stddev": b.stddev}
        for b in buckets
    ]


@router.get("/violations", summary="Stored rule violations")
def list_violations(
    ctx: Ctx,
    user: Operator,
    characteristic: Annotated[str | None, Query()] = None,
    from_: From = None,
    to: To = None,
) -> list[dict[str, Any]]:
    start, end = _window(from_, to)
    repo = ctx.store.repo
    with ctx.store.transaction(readonly=True) as tx:
        cid = None
        if characteristic is not None:
            char = repo.get_characteristic(tx, characteristic)
            if char is None:
                raise not_found(f"characteristic {characteristic!r}")
            cid = char.id
        return repo.violations(tx, cid, start, end)
