"""Characteristics: CRUD (engineer to change, any role to read)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from service import characteristics as service
from service.api.deps import Ctx, Engineer, Operator
from service.api.errors import not_found
from service.api.schemas.characteristics import (
    CharacteristicCreate,
    CharacteristicPublic,
    CharacteristicUpdate,
)
from service.domain import Characteristic
from service.storage.db import Tx
from service.storage.repository import Repository

router = APIRouter(prefix="/api/v1/characteristics", tags=["characteristics"])


def public(tx: Tx, repo: Repository, char: Characteristic) -> dict[str, Any]:
    body = char.public()
    body["current_limit_version"] = repo.current_version_number(tx, char.id)
    return body


def load(tx: Tx, repo: Repository, key: str) -> Characteristic:
    char = repo.get_characteristic(tx, key)
    if char is None:
        raise not_found(f"characteristic {key!r}")
    return char


@router.get("", response_model=list[CharacteristicPublic])
def list_characteristics(
    ctx: Ctx,
    user: Operator,
    station: Annotated[str | None, Query()] = None,
    line: Annotated[str | None, Query()] = None,
) -> list[dict[str, Any]]:
    repo = ctx.store.repo
    with ctx.store.transaction(readonly=True) as tx:
        return [
            public(tx, repo, c) for c in repo.list_characteristics(tx, station=station, line=line)
        ]


@router.post("", response_model=CharacteristicPublic, status_code=status.HTTP_201_CREATED)
def create_characteristic(body: CharacteristicCreate, ctx: Ctx, user: Engineer) -> dict[str, Any]:
    repo = ctx.store.repo
    with ctx.store.transaction() as tx:
        char = service.create(tx, repo, body.model_dump(), actor=user.name)
        result = public(tx, repo, char)
    ctx.ingest_service.chars.forget(char.key)
    return result


@router.get("/{key}", response_model=CharacteristicPublic)
def get_characteristic(key: str, ctx: Ctx, user: Operator) -> dict[str, Any]:
    repo = ctx.store.repo
    with ctx.store.transaction(readonly=True) as tx:
        return public(tx, repo, load(tx, repo, key))


@router.patch("/{key}", response_model=CharacteristicPublic)
def update_characteristic(
    key: str, body: CharacteristicUpdate, ctx: Ctx, user: Engineer
) -> dict[str, Any]:
    repo = ctx.store.repo
    changes = body.model_dump(exclude_unset=True)
    reason = changes.pop("reason", None)
    with ctx.store.transaction() as tx:
        char = load(tx, repo, key)
        updated = service.update(tx, repo, char, changes, actor=user.name, reason=reason)
        result = public(tx, repo, updated)
    ctx.ingest_service.chars.forget(key)
    return result


@router.delete("/{key}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def delete_characteristic(key: str, ctx: Ctx, user: Engineer) -> Response:
    repo = ctx.store.repo
    with ctx.store.transaction() as tx:
        service.delete(tx, repo, load(tx, repo, key), actor=user.name)
    ctx.ingest_service.chars.forget(key)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
