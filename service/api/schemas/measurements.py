from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class MeasurementIn(BaseModel):
    """One record of the ingest contract (documentation only: records are checked one by one,
    so that a bad record is rejected without failing the batch)."""

    characteristic: str = Field(examples=["line1.op20.bore"])
    ts: str = Field(examples=["2026-11-26T10:00:00.123Z"], description="ISO 8601 with a zone")
    value: float = Field(examples=[74.012])
    subgroup: str | None = None
    lot: str | None = None
    serial: str | None = None
    source: str | None = None
    seq: int | None = None
    quality: str | None = Field(default=None, description="good (default), uncertain or bad")


class MeasurementBatch(BaseModel):
    measurements: list[MeasurementIn]


class Rejection(BaseModel):
    index: int
    error: str


class IngestAnswer(BaseModel):
    accepted: int
    duplicates: int
    rejected: list[Rejection]


class MeasurementPublic(BaseModel):
    id: int
    characteristic: str
    ts: Any
    value: float
    subgroup: str | None
    lot: str | None
    limit_version: int | None
    point_no: int | None
    quality: str | None
