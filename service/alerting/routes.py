"""Alerting API: the notifications of an alarm with every delivery attempt, and routes.

Routes from linewatch.toml are read-only here; routes created over the API live in the
database (`alert_routes`) and are picked up by the worker within seconds.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request, status
from pydantic import BaseModel, ValidationError

from service.alerting import store as alert_store
from service.alerting.config import AlertingConfig, RouteConfig, parse_alerting
from service.api.deps import Admin, Engineer, Store
from service.storage.db import utcnow

router = APIRouter(prefix="/api/v1", tags=["alerting"])


class Attempt(BaseModel):
    attempt: int
    started_at: datetime
    duration_ms: float
    ok: bool
    retryable: bool
    status_code: int | None
    detail: str | None
    worker: str


class Notification(BaseModel):
    id: int
    kind: str
    event: str
    route: str | None
    channel: str
    state: str
    attempts: int
    created_at: datetime
    sent_at: datetime | None
    next_attempt_at: datetime | None
    last_error: str | None
    message: dict[str, Any]
    attempt_log: list[Attempt]


class RoutePublic(BaseModel):
    source: str  # "config" (linewatch.toml) or "api"
    route: dict[str, Any]
    updated_at: datetime | None = None
    updated_by: str | None = None


def get_config(request: Request) -> AlertingConfig:
    """The running worker's config; alerting switched off (`enabled = false`) has none."""
    alerting = getattr(request.app.state, "alerting", None)
    if alerting is None:
        return parse_alerting(None)
    return alerting.config  # type: ignore[no-any-return]


Config = Annotated[AlertingConfig, Depends(get_config)]
AlarmId = Annotated[int, Path(ge=1, le=2**63 - 1, description="alarm id")]
RouteName = Annotated[
    str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
]


@router.get("/alarms/{alarm_id}/notifications", response_model=list[Notification])
def alarm_notifications(alarm_id: AlarmId, store: Store, user: Engineer) -> list[dict[str, Any]]:
    """Every notification of the alarm (messages, digests excluded, escalations) and each
    delivery attempt: when, how long, the receiver's answer."""
    with store.transaction(readonly=True) as tx:
        if store.repo.get_alarm(tx, alarm_id) is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"alarm {alarm_id} not found")
        return alert_store.notifications_for_alarm(tx, alarm_id)


@router.get("/alerting/routes", response_model=list[RoutePublic])
def list_routes(store: Store, config: Config, user: Engineer) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {"source": "config", "route": r.model_dump(mode="json")} for r in config.routes
    ]
    with store.transaction(readonly=True) as tx:
        for row in alert_store.db_routes(tx):
            out.append(
                {
                    "source": "api",
                    "route": row["definition"],
                    "updated_at": row["updated_at"],
                    "updated_by": row["updated_by"],
                }
            )
    return out


@router.put("/alerting/routes/{name}", response_model=RoutePublic)
def put_route(
    name: RouteName,
    body: dict[str, Any],
    request: Request,
    store: Store,
    config: Config,
    user: Admin,
) -> dict[str, Any]:
    """Create or replace an API route (same fields as `[[alerting.routes]]`)."""
    if any(r.name == name for r in config.routes):
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"route {name!r} is defined in linewatch.toml"
        )
    try:
        route = RouteConfig.model_validate({**body, "name": name})
    except ValidationError as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, exc.errors(include_url=False)
        ) from exc
    unknown = [c for c in route.channels if c not in config.channels]
    if unknown:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"unknown channel(s): {', '.join(unknown)}"
        )
    definition = route.model_dump(mode="json")
    now = utcnow()
    with store.transaction() as tx:
        before = tx.fetchone("SELECT definition FROM alert_routes WHERE name = ?", [name])
        tx.upsert(
            "alert_routes",
            {
                "name": name,
                "definition": tx.dump_json(definition),
                "updated_at": tx.ts(now),
                "updated_by": user.name,
            },
            key=["name"],
        )
        store.repo.audit(
            tx,
            actor=user.name,
            entity="alert_route",
            entity_key=name,
            action="update" if before else "create",
            before=tx.load_json(before["definition"]) if before else None,
            after=definition,
        )
    _invalidate(request)
    return {"source": "api", "route": definition, "updated_at": now, "updated_by": user.name}


@router.delete("/alerting/routes/{name}", status_code=status.HTTP_204_NO_CONTENT)
def delete_route(
    name: RouteName, request: Request, store: Store, config: Config, user: Admin
) -> None:
    if any(r.name == name for r in config.routes):
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"route {name!r} is defined in linewatch.toml"
        )
    with store.transaction() as tx:
        before = tx.fetchone("SELECT definition FROM alert_routes WHERE name = ?", [name])
        if before is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"route {name!r} not found")
        tx.execute("DELETE FROM alert_routes WHERE name = ?", [name])
        store.repo.audit(
            tx,
            actor=user.name,
            entity="alert_route",
            entity_key=name,
            action="delete",
            before=tx.load_json(before["definition"]),
        )
    _invalidate(request)


def _invalidate(request: Request) -> None:
    alerting = getattr(request.app.state, "alerting", None)
    if alerting is not None:
        alerting.worker.invalidate_routes()
