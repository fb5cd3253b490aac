"""Limit versions: propose (compute or type in), list, show (optionally re-verify), approve."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, status

from service import limits as service
from service.api.deps import Ctx, Engineer, Operator
from service.api.errors import conflict, invalid, not_found
from service.api.routes.characteristics import load
from service.api.schemas.common import Version
from service.api.schemas.limits import ApproveRequest, LimitPublic, LimitsCreate

router = APIRouter(prefix="/api/v1/characteristics/{key}/limits", tags=["limits"])


@router.post("", response_model=LimitPublic, status_code=status.HTTP_201_CREATED)
def propose_limits(key: str, body: LimitsCreate, ctx: Ctx, user: Engineer) -> dict[str, Any]:
    """Compute a proposal from phase I data (a time window `from`/`to`, a list of `subgroups`
    labels, optionally only the `first` N subgroups; `exclude_flagged` drops signalling points
    iteratively and reports them in `phase1.excluded`), or store known `center`/`sigma`."""
    repo = ctx.store.repo
    request = body.model_dump()
    request["from"] = request.pop("from_")
    with ctx.store.transaction() as tx:
        char = load(tx, repo, key)
        try:
            version = service.propose(tx, repo, char, request, actor=user.name)
        except service.LimitsError as exc:
            raise invalid(exc.field or "body", str(exc)) from None
        return version.public()


@router.get("", response_model=list[LimitPublic])
def list_limits(key: str, ctx: Ctx, user: Operator) -> list[dict[str, Any]]:
    repo = ctx.store.repo
    with ctx.store.transaction(readonly=True) as tx:
        char = load(tx, repo, key)
        return [v.public() for v in repo.list_limit_versions(tx, char.id)]


@router.get("/{version}", response_model=LimitPublic)
def get_limits(
    key: str,
    version: Version,
    ctx: Ctx,
    user: Operator,
    verify: Annotated[bool, Query(description="Recompute from stored data and compare")] = False,
) -> dict[str, Any]:
    repo = ctx.store.repo
    with ctx.store.transaction(readonly=True) as tx:
        char = load(tx, repo, key)
        found = repo.get_limit_version(tx, char.id, version)
        if found is None:
            raise not_found(f"limit version {version} of {key!r}")
        body = found.public()
        if verify:
            try:
                body["reproducible"] = service.reproduce(tx, repo, char, found)
            except service.LimitsError:
                body["reproducible"] = False
        return body


@router.post("/{version}/approve", response_model=LimitPublic)
def approve_limits(
    key: str,
    version: Version,
    ctx: Ctx,
    user: Engineer,
    body: Annotated[ApproveRequest | None, Body()] = None,
) -> dict[str, Any]:
    """Make this version current: measurements from now on are judged against it."""
    repo = ctx.store.repo
    with ctx.store.transaction() as tx:
        char = load(tx, repo, key)
        found = repo.get_limit_version(tx, char.id, version)
        if found is None:
            raise not_found(f"limit version {version} of {key!r}")
        if found.approved_at is not None:
            raise conflict(f"limit version {version} of {key!r} is already approved")
        approved = service.approve(
            tx, repo, char, found, actor=user.name, reason=body.reason if body else None
        )
        result = approved.public()
    ctx.evaluator.invalidate([char.id])
    return result
