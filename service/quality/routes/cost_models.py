"""Cost model versions per site (manager): rates valid from a date until the next version."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from service.api.deps import Ctx, Manager
from service.quality import cost_models
from service.quality.routes.params import RecordId
from service.quality.schemas import CostModelCreate, CostModelPublic, CostModelUpdate

router = APIRouter(prefix="/api/v1/cost-models", tags=["quality: cost models"])


@router.get("", response_model=list[CostModelPublic])
def list_models(
    ctx: Ctx, user: Manager, site: Annotated[str | None, Query()] = None
) -> list[dict[str, Any]]:
    with ctx.store.transaction(readonly=True) as tx:
        return cost_models.list_models(tx, site=site)


@router.post(
    "",
    response_model=CostModelPublic,
    status_code=status.HTTP_201_CREATED,
    summary="Add a version; the records of its validity are re-costed with it",
)
def create_model(body: CostModelCreate, ctx: Ctx, user: Manager) -> dict[str, Any]:
    with ctx.store.transaction() as tx:
        return cost_models.create_model(tx, ctx.store.repo, body.model_dump(), actor=user.name)


@router.get("/{model_id}", response_model=CostModelPublic)
def get_model(model_id: RecordId, ctx: Ctx, user: Manager) -> dict[str, Any]:
    with ctx.store.transaction(readonly=True) as tx:
        return cost_models.get_model(tx, model_id)


@router.put(
    "/{model_id}",
    response_model=CostModelPublic,
    summary="Replace the rates of a version; its records are re-costed",
)
def replace_model(
    model_id: RecordId, body: CostModelUpdate, ctx: Ctx, user: Manager
) -> dict[str, Any]:
    with ctx.store.transaction() as tx:
        return cost_models.replace_model(
            tx, ctx.store.repo, model_id, body.model_dump(), actor=user.name
        )


@router.delete("/{model_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def delete_model(model_id: RecordId, ctx: Ctx, user: Manager) -> Response:
    with ctx.store.transaction() as tx:
        cost_models.delete_model(tx, ctx.store.repo, model_id, actor=user.name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
