"""`Annotated` dependencies shared by every route.

* `Ctx`: the running service (`service.context.Linewatch`).
* `Store`: database pool + repository (`service.storage.repository.Store`).
* `CurrentUser`: the caller behind the bearer token; 401 without a valid token.
* `RequireRole("engineer")`: the caller, or 403 when the role is too low. Roles are ordered
  operator < engineer < manager < admin; each includes the rights of the ones before it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from service.context import Linewatch
from service.domain import ROLES, Principal, role_at_least
from service.storage.repository import Store as StoreT

bearer = HTTPBearer(auto_error=False, description="A token from `linewatch token create`")


# The dependencies are coroutines: a plain `def` dependency costs FastAPI a trip through the
# thread pool on every request, three per request here, most of a small request's time.


async def get_ctx(request: Request) -> Linewatch:
    ctx = getattr(request.app.state, "linewatch", None)
    if ctx is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "service is starting")
    return ctx  # type: ignore[no-any-return]


Ctx = Annotated[Linewatch, Depends(get_ctx)]


async def get_store(ctx: Ctx) -> StoreT:
    return ctx.store


Store = Annotated[StoreT, Depends(get_store)]

UNAUTHORIZED = HTTPException(
    status.HTTP_401_UNAUTHORIZED,
    "missing or invalid bearer token",
    headers={"WWW-Authenticate": "Bearer"},
)


def authenticate(ctx: Linewatch, token: str | None) -> Principal:
    if not token:
        raise UNAUTHORIZED
    principal = ctx.auth(token)
    if principal is None:
        raise UNAUTHORIZED
    return principal


async def get_current_user(
    ctx: Ctx,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    token = credentials.credentials if credentials else None
    if token:
        known, principal = ctx.auth.cached(token)
        if known:
            if principal is None:
                raise UNAUTHORIZED
            return principal
    return await run_in_threadpool(authenticate, ctx, token)  # a database look-up


CurrentUser = Annotated[Principal, Depends(get_current_user)]


class RequireRole:
    """Dependency: the current user, if their role is at least `role`."""

    def __init__(self, role: str) -> None:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        self.role = role

    async def __call__(self, user: CurrentUser) -> Principal:
        if not role_at_least(user.role, self.role):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, f"this needs the {self.role} role (you are {user.role})"
            )
        return user


Operator = Annotated[Principal, Depends(RequireRole("operator"))]
Engineer = Annotated[Principal, Depends(RequireRole("engineer"))]
Manager = Annotated[Principal, Depends(RequireRole("manager"))]
Admin = Annotated[Principal, Depends(RequireRole("admin"))]
