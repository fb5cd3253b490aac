"""Alarms: list and filter, acknowledge with cause and action codes, close, statistics."""

from __future__ import annotations

import statistics
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from service.api.deps import Ctx, Engineer, Operator
from service.api.errors import conflict, invalid, not_found
from service.api.schemas.alarms import (
    AcknowledgeRequest,
    AlarmCodes,
    AlarmPublic,
    AlarmStats,
    CloseRequest,
)
from service.api.schemas.common import Id, Timestamp, _utc

router = APIRouter(prefix="/api/v1", tags=["alarms"])
State = Literal["open", "acknowledged", "closed"]


def _characteristic_id(ctx: Ctx, tx: Any, key: str | None) -> int | None:
    if key is None:
        return None
    char = ctx.store.repo.get_characteristic(tx, key)
    if char is None:
        raise not_found(f"characteristic {key!r}")
    return char.id


def _code(given: str, codes: list[str], field: str, *, strict: bool) -> str:
    """The configured code `given` names; "Tool wear" and "tool_wear" find "tool-wear".

    A text that names no code is kept as the operator wrote it unless the plant made the code
    lists strict (`[alarm_codes] strict = true`): the ingest-to-acknowledge contract takes
    free text, and a plant's Pareto of causes reads the codes.
    """
    if given in codes:
        return given

    def norm(text: str) -> str:
        return "-".join(text.strip().lower().replace("_", " ").replace("-", " ").split())

    for code in codes:
        if norm(code) == norm(given):
            return code
    if not strict:
        return given.strip()
    raise invalid(field, f"unknown {field} code {given!r}; use one of {', '.join(codes)}")


@router.get("/alarms", response_model=list[AlarmPublic])
def list_alarms(
    ctx: Ctx,
    user: Operator,
    state: Annotated[State | None, Query()] = None,
    characteristic: Annotated[str | None, Query()] = None,
    since: Annotated[Timestamp | None, Query(description="Opened at or after")] = None,
    until: Annotated[Timestamp | None, Query(description="Opened before")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[dict[str, Any]]:
    with ctx.store.transaction(readonly=True) as tx:
        cid = _characteristic_id(ctx, tx, characteristic)
        alarms = ctx.store.repo.list_alarms(
            tx,
            state=state,
            characteristic_id=cid,
            since=_utc(since),
            until=_utc(until),
            limit=limit,
        )
    return [a.public() for a in alarms]


@router.get("/alarms/stats", response_model=AlarmStats)
def alarm_stats(
    ctx: Ctx,
    user: Operator,
    characteristic: Annotated[str | None, Query()] = None,
    since: Annotated[Timestamp | None, Query()] = None,
    until: Annotated[Timestamp | None, Query()] = None,
) -> dict[str, Any]:
    """Counts per state and mean/median time to acknowledge over alarms opened in the window."""
    with ctx.store.transaction(readonly=True) as tx:
        cid = _characteristic_id(ctx, tx, characteristic)
        alarms = ctx.store.repo.list_alarms(
            tx, characteristic_id=cid, since=_utc(since), until=_utc(until), limit=1_000_000
        )
    waits = [
        (a.acknowledged_at - a.opened_at).total_seconds()
        for a in alarms
        if a.acknowledged_at is not None
    ]
    return {
        "open": sum(a.state == "open" for a in alarms),
        "acknowledged": sum(a.state == "acknowledged" for a in alarms),
        "closed": sum(a.state == "closed" for a in alarms),
        "total": len(alarms),
        "mean_time_to_acknowledge_seconds": statistics.fmean(waits) if waits else None,
        "median_time_to_acknowledge_seconds": statistics.median(waits) if waits else None,
    }


@router.get("/alarm-codes", response_model=AlarmCodes)
def alarm_codes(ctx: Ctx, user: Operator) -> dict[str, Any]:
    """The assignable-cause and corrective-action codes an acknowledgement may use."""
    return {"causes": ctx.cause_codes, "actions": ctx.action_codes}


@router.get("/alarms/{alarm_id}", response_model=AlarmPublic)
def get_alarm(alarm_id: Id, ctx: Ctx, user: Operator) -> dict[str, Any]:
    with ctx.store.transaction(readonly=True) as tx:
        alarm = ctx.store.repo.get_alarm(tx, alarm_id)
    if alarm is None:
        raise not_found(f"alarm {alarm_id}")
    return alarm.public()


@router.post("/alarms/{alarm_id}/acknowledge", response_model=AlarmPublic)
def acknowledge_alarm(
    alarm_id: Id, body: AcknowledgeRequest, ctx: Ctx, user: Operator
) -> dict[str, Any]:
    strict = bool(ctx.strict_codes)
    cause = _code(body.cause, ctx.cause_codes, "cause", strict=strict)
    action = _code(body.action, ctx.action_codes, "action", strict=strict)
    repo = ctx.store.repo
    with ctx.store.transaction() as tx:
        alarm = repo.get_alarm(tx, alarm_id, for_update=True)
        if alarm is None:
            raise not_found(f"alarm {alarm_id}")
        if alarm.state != "open":
            raise conflict(f"alarm {alarm_id} is {alarm.state}, not open")
        char = repo.get_characteristic_by_id(tx, alarm.characteristic_id)
        assert char is not None
        updated = ctx.alarms.acknowledge(tx, alarm, char, user.name, cause, action, body.note)
    return updated.public()


@router.post("/alarms/{alarm_id}/close", response_model=AlarmPublic)
def close_alarm(
    alarm_id: Id, ctx: Ctx, user: Engineer, body: CloseRequest | None = None
) -> dict[str, Any]:
    """Close an alarm (engineer): later hits of its rule open a new one."""
    repo = ctx.store.repo
    with ctx.store.transaction() as tx:
        alarm = repo.get_alarm(tx, alarm_id, for_update=True)
        if alarm is None:
            raise not_found(f"alarm {alarm_id}")
        if alarm.state == "closed":
            raise conflict(f"alarm {alarm_id} is already closed")
        char = repo.get_characteristic_by_id(tx, alarm.characteristic_id)
        assert char is not None
        updated = ctx.alarms.close(tx, alarm, char, user.name, body.note if body else None)
    return updated.public()
