"""Query parameters shared by the quality routes: window, filters, output format, roles."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Query, status

from service.api.bodies import json_batch
from service.api.errors import invalid
from service.api.schemas.common import _utc
from service.domain import Principal, role_at_least
from service.quality.export import Format
from service.quality.queries import Window

From = Annotated[
    datetime | None,
    Query(alias="from", description="ISO 8601, inclusive; UTC if no zone (default: to − 30 days)"),
]
To = Annotated[
    datetime | None,
    Query(description="ISO 8601, exclusive; UTC if no zone (default: next midnight UTC)"),
]
OutputFormat = Annotated[
    Format, Query(description="json, or csv / xlsx as an attachment (the rows of the answer)")
]
Filter = Annotated[list[str] | None, Query(description="Repeat to select several")]
RecordId = Annotated[int, Path(ge=1, le=2**63 - 1)]


def window(start: datetime | None, end: datetime | None) -> Window:
    """The query window; a time outside what the database can store is a 422 naming it."""
    bounds = []
    for name, value in (("from", start), ("to", end)):
        try:
            bounds.append(_utc(value))
        except ValueError as exc:
            raise invalid(name, str(exc)) from None
    return Window.of(bounds[0], bounds[1])


def filters(**values: list[str] | None) -> dict[str, list[str]]:
    return {name: list(v) for name, v in values.items() if v}


def record_filters(
    site: Filter = None,
    line: Filter = None,
    product: Filter = None,
    category: Filter = None,
    disposition: Filter = None,
) -> dict[str, list[str]]:
    """The five record filters that the Pareto and movers queries share."""
    return filters(
        site=site, line=line, product=product, category=category, disposition=disposition
    )


RecordFilters = Annotated[dict[str, list[str]], Depends(record_filters)]


def require_cost_role(user: Principal, measure: str) -> None:
    if measure == "cost" and not role_at_least(user.role, "manager"):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"cost data needs the manager role (you are {user.role})"
        )


batch = json_batch
