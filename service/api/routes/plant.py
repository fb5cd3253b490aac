"""Plant hierarchy: sites > lines (with an optional area) > stations."""

from __future__ import annotations

from dataclasses import asdict
from enum import Enum
from typing import Any

from fastapi import APIRouter, Response, status
from pydantic import BaseModel

from service import characteristics as service
from service.api.deps import Ctx, Engineer, Operator
from service.api.errors import not_found
from service.api.schemas.plant import (
    LineCreate,
    PlantPublic,
    PlantUpdate,
    SiteCreate,
    StationCreate,
)

router = APIRouter(prefix="/api/v1", tags=["plant"])


def _public(node: Any) -> dict[str, Any]:
    data = asdict(node)
    data.pop("id", None)
    data.pop("children", None)
    return data


def _routes(level: str, plural: str, create_model: type[BaseModel]) -> None:
    def list_nodes(ctx: Ctx, user: Operator) -> list[dict[str, Any]]:
        with ctx.store.transaction(readonly=True) as tx:
            return [_public(n) for n in ctx.store.repo.plant_list(tx, level)]

    def create_node(body: BaseModel, ctx: Ctx, user: Engineer) -> dict[str, Any]:
        with ctx.store.transaction() as tx:
            node = service.plant_create(
                tx, ctx.store.repo, level, body.model_dump(), actor=user.name
            )
        return _public(node)

    create_node.__annotations__["body"] = create_model

    def get_node(key: str, ctx: Ctx, user: Operator) -> dict[str, Any]:
        with ctx.store.transaction(readonly=True) as tx:
            node = ctx.store.repo.plant_get(tx, level, key)
        if node is None:
            raise not_found(f"{level} {key!r}")
        return _public(node)

    def update_node(key: str, body: PlantUpdate, ctx: Ctx, user: Engineer) -> dict[str, Any]:
        with ctx.store.transaction() as tx:
            node = service.plant_update(
                tx,
                ctx.store.repo,
                level,
                key,
                body.model_dump(exclude_unset=True),
                actor=user.name,
            )
        ctx.ingest_service.chars.forget()
        return _public(node)

    def delete_node(key: str, ctx: Ctx, user: Engineer) -> Response:
        with ctx.store.transaction() as tx:
            service.plant_delete(tx, ctx.store.repo, level, key, actor=user.name)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    path = f"/{plural}"
    tags: list[str | Enum] = [f"plant: {plural}"]
    router.add_api_route(
        path,
        list_nodes,
        methods=["GET"],
        response_model=list[PlantPublic],
        tags=tags,
        name=f"list_{plural}",
    )
    router.add_api_route(
        path,
        create_node,
        methods=["POST"],
        response_model=PlantPublic,
        status_code=201,
        tags=tags,
        name=f"create_{level}",
    )
    router.add_api_route(
        path + "/{key}",
        get_node,
        methods=["GET"],
        response_model=PlantPublic,
        tags=tags,
        name=f"get_{level}",
    )
    router.add_api_route(
        path + "/{key}",
        update_node,
        methods=["PATCH"],
        response_model=PlantPublic,
        tags=tags,
        name=f"update_{level}",
    )
    router.add_api_route(
        path + "/{key}",
        delete_node,
        methods=["DELETE"],
        status_code=204,
        response_class=Response,
        tags=tags,
        name=f"delete_{level}",
    )


_routes("site", "sites", SiteCreate)
_routes("line", "lines", LineCreate)
_routes("station", "stations", StationCreate)
