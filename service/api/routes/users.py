"""Users and API tokens (admin), and `GET /api/v1/me` (anyone with a token)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response, status

from service.api.deps import Admin, Ctx, CurrentUser
from service.api.errors import conflict, not_found
from service.api.schemas.common import Id
from service.api.schemas.users import (
    Me,
    TokenCreate,
    TokenCreated,
    TokenPublic,
    UserCreate,
    UserPublic,
    UserUpdate,
)
from service.auth import issue_token
from service.storage.db import utcnow

router = APIRouter(prefix="/api/v1", tags=["users"])


@router.get("/me", response_model=Me)
def me(user: CurrentUser) -> dict[str, Any]:
    return {"name": user.name, "role": user.role}


@router.get("/users", response_model=list[UserPublic])
def list_users(ctx: Ctx, user: Admin) -> list[dict[str, Any]]:
    with ctx.store.transaction(readonly=True) as tx:
        return ctx.store.repo.list_users(tx)


@router.post("/users", response_model=UserPublic, status_code=status.HTTP_201_CREATED)
def create_user(body: UserCreate, ctx: Ctx, user: Admin) -> dict[str, Any]:
    repo = ctx.store.repo
    with ctx.store.transaction() as tx:
        if repo.get_user(tx, body.name) is not None:
            raise conflict(f"user {body.name!r} already exists")
        repo.create_user(tx, body.name, body.role)
        repo.audit(
            tx,
            actor=user.name,
            entity="user",
            entity_key=body.name,
            action="create",
            after=body.model_dump(),
        )
        created = repo.get_user(tx, body.name)
    return created  # type: ignore[return-value]


@router.patch("/users/{name}", response_model=UserPublic)
def update_user(name: str, body: UserUpdate, ctx: Ctx, user: Admin) -> dict[str, Any]:
    repo = ctx.store.repo
    with ctx.store.transaction() as tx:
        found = repo.get_user(tx, name)
        if found is None:
            raise not_found(f"user {name!r}")
        changes: dict[str, Any] = {}
        if body.role is not None:
            changes["role"] = body.role
        if body.disabled is not None:
            changes["disabled_at"] = utcnow() if body.disabled else None
        if changes:
            repo.update_user(tx, int(found["id"]), dict(changes))
            repo.audit(
                tx,
                actor=user.name,
                entity="user",
                entity_key=name,
                action="update",
                before={"role": found["role"], "disabled": found["disabled_at"] is not None},
                after=body.model_dump(exclude_unset=True),
            )
        updated = repo.get_user(tx, name)
    ctx.auth.forget()
    return updated  # type: ignore[return-value]


@router.get("/tokens", response_model=list[TokenPublic])
def list_tokens(ctx: Ctx, user: Admin) -> list[dict[str, Any]]:
    with ctx.store.transaction(readonly=True) as tx:
        return ctx.store.repo.list_tokens(tx)


@router.post("/tokens", response_model=TokenCreated, status_code=status.HTTP_201_CREATED)
def create_token(body: TokenCreate, ctx: Ctx, user: Admin) -> dict[str, Any]:
    """A new token for user `name` (created if missing, given `role`); shown once."""
    token = issue_token(
        ctx.store,
        ctx.settings.secret_key.get_secret_value(),
        role=body.role,
        name=body.name,
        actor=user.name,
    )
    ctx.auth.forget()
    return {"name": body.name, "role": body.role, "token": token}


@router.delete("/tokens/{token_id}", status_code=204, response_class=Response)
def revoke_token(token_id: Id, ctx: Ctx, user: Admin) -> Response:
    repo = ctx.store.repo
    with ctx.store.transaction() as tx:
        if not repo.revoke_token(tx, token_id):
            raise not_found(f"active token {token_id}")
        repo.audit(tx, actor=user.name, entity="token", entity_key=str(token_id), action="revoke")
    ctx.auth.forget()
    return Response(status_code=204)
