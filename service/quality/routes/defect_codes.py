"""The defect catalogue: codes with categories (engineer to change, any role to read)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from service.api.deps import Ctx, Engineer, Operator
from service.quality import catalogue
from service.quality.schemas import DefectCodeCreate, DefectCodePublic, DefectCodeUpdate

router = APIRouter(prefix="/api/v1/defect-codes", tags=["quality: defect codes"])


@router.get("", response_model=list[DefectCodePublic])
def list_codes(
    ctx: Ctx,
    user: Operator,
    category: Annotated[str | None, Query()] = None,
    active: Annotated[bool | None, Query()] = None,
) -> list[dict[str, Any]]:
    with ctx.store.transaction(readonly=True) as tx:
        return catalogue.list_codes(tx, category=category, active=active)


@router.post("", response_model=DefectCodePublic, status_code=status.HTTP_201_CREATED)
def create_code(body: DefectCodeCreate, ctx: Ctx, user: Engineer) -> dict[str, Any]:
    with ctx.store.transaction() as tx:
        return catalogue.create_code(tx, ctx.store.repo, body.model_dump(), actor=user.name)


@router.get("/{code}", response_model=DefectCodePublic)
def get_code(code: str, ctx: Ctx, user: Operator) -> dict[str, Any]:
    with ctx.store.transaction(readonly=True) as tx:
        return catalogue.get_code(tx, code)


@router.patch("/{code}", response_model=DefectCodePublic)
def update_code(code: str, body: DefectCodeUpdate, ctx: Ctx, user: Engineer) -> dict[str, Any]:
    with ctx.store.transaction() as tx:
        return catalogue.update_code(
            tx, ctx.store.repo, code, body.model_dump(exclude_unset=True), actor=user.name
        )


@router.delete("/{code}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def delete_code(code: str, ctx: Ctx, user: Engineer) -> Response:
    with ctx.store.transaction() as tx:
        catalogue.delete_code(tx, ctx.store.repo, code, actor=user.name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
