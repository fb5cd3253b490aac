from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from service.api.schemas.common import Strict, Text


class AcknowledgeRequest(Strict):
    cause: str = Field(
        min_length=1,
        max_length=200,
        description="A code of GET /api/v1/alarm-codes, or free text unless the codes are strict",
    )
    action: str = Field(
        min_length=1,
        max_length=200,
        description="A code of GET /api/v1/alarm-codes, or free text unless the codes are strict",
    )
    note: Text | None = Field(default=None, description="Free text")


class CloseRequest(Strict):
    note: Text | None = None


class AlarmPublic(BaseModel):
    id: int
    characteristic: str
    series: str
    rule: str
    state: str
    limit_version: int | None
    opened_at: datetime
    first_ts: datetime
    last_ts: datetime
    hits: int
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    cause: str | None
    action: str | None
    note: str | None
    closed_at: datetime | None
    closed_by: str | None
    close_note: str | None


class AlarmStats(BaseModel):
    open: int
    acknowledged: int
    closed: int
    total: int
    mean_time_to_acknowledge_seconds: float | None
    median_time_to_acknowledge_seconds: float | None


class AlarmCodes(BaseModel):
    causes: list[str]
    actions: list[str]
