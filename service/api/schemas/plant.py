from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from service.api.schemas.common import Key, Name, Strict


class SiteCreate(Strict):
    key: Key
    name: Name


class LineCreate(Strict):
    key: Key
    name: Name
    site: Key
    area: Name | None = None


class StationCreate(Strict):
    key: Key
    name: Name
    line: Key


class PlantUpdate(Strict):
    name: Name | None = None
    area: Name | None = None
    parent: Key | None = None


class PlantPublic(BaseModel):
    level: str
    key: str
    name: str
    parent: str | None
    area: str | None = None
    created_at: datetime | None
    updated_at: datetime | None
