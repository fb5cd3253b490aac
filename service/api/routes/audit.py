"""The append-only audit log (engineer and above)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from service.api.deps import Ctx, Engineer

router = APIRouter(prefix="/api/v1", tags=["audit"])


@router.get("/audit", summary="Who changed what, when, before, after and why (newest first)")
def audit_log(
    ctx: Ctx,
    user: Engineer,
    entity: Annotated[str | None, Query(max_length=50)] = None,
    key: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[dict[str, Any]]:
    with ctx.store.transaction(readonly=True) as tx:
        return ctx.store.repo.audit_log(tx, entity=entity, entity_key=key, limit=limit)
