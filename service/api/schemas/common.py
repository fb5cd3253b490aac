"""Field types shared by the schemas."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Path
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}$"

Key = Annotated[
    str,
    Field(
        pattern=KEY_PATTERN,
        description="Stable identifier: letters, digits and _ . : - (at most 128 characters)",
        examples=["line1.op20.bore"],
    ),
]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Text = Annotated[str, Field(max_length=2000)]


def _finite(value: float | None) -> float | None:
    if value is not None and not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


Finite = Annotated[float, AfterValidator(_finite)]


def _utc(value: datetime | None) -> datetime | None:
    """Aware UTC; a time without zone is taken as UTC (query parameters typed by people)."""
    if value is None:
        return None
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:
        raise ValueError("timestamp out of range") from None


Timestamp = Annotated[datetime, AfterValidator(_utc)]


class Strict(BaseModel):
    """Requests reject unknown fields: a typo is an error, not a silent default."""

    model_config = ConfigDict(extra="forbid")


class Message(BaseModel):
    detail: str


Id = Annotated[int, Path(ge=1, le=2**63 - 1, description="A database id")]
Version = Annotated[int, Path(ge=1, le=2**31 - 1, description="A limit version number")]
