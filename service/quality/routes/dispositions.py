"""Dispositions: what was done with nonconforming units, each costed on a basis."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, status

from service.api.deps import Ctx, Engineer, Operator
from service.quality import catalogue
from service.quality.schemas import DispositionCreate, DispositionPublic, DispositionUpdate

router = APIRouter(prefix="/api/v1/dispositions", tags=["quality: dispositions"])


@router.get("", response_model=list[DispositionPublic])
def list_dispositions(
    ctx: Ctx, user: Operator, active: Annotated[bool | None, Query()] = None
) -> list[dict[str, Any]]:
    with ctx.store.transaction(readonly=True) as tx:
        return catalogue.list_dispositions(tx, active=active)


@router.post("", response_model=DispositionPublic, status_code=status.HTTP_201_CREATED)
def create_disposition(body: DispositionCreate, ctx: Ctx, user: Engineer) -> dict[str, Any]:
    with ctx.store.transaction() as tx:
        return catalogue.create_disposition(tx, ctx.store.repo, body.model_dump(), actor=user.name)


@router.get("/{key}", response_model=DispositionPublic)
def get_disposition(key: str, ctx: Ctx, user: Operator) -> dict[str, Any]:
    with ctx.store.transaction(readonly=True) as tx:
        return catalogue.get_disposition(tx, key)


@router.patch("/{key}", response_model=DispositionPublic)
def update_disposition(
    key: str, body: DispositionUpdate, ctx: Ctx, user: Engineer
) -> dict[str, Any]:
    with ctx.store.transaction() as tx:
        return catalogue.update_disposition(
            tx, ctx.store.repo, key, body.model_dump(exclude_unset=True), actor=user.name
        )
