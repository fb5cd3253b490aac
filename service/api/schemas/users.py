from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from service.api.schemas.common import Strict

RoleName = Literal["operator", "engineer", "manager", "admin"]


class UserCreate(Strict):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[^\s].*$")
    role: RoleName


class UserUpdate(Strict):
    role: RoleName | None = None
    disabled: bool | None = None


class UserPublic(BaseModel):
    id: int
    name: str
    role: str
    created_at: datetime
    disabled_at: datetime | None


class TokenCreate(Strict):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[^\s].*$")
    role: RoleName


class TokenCreated(BaseModel):
    id: int | None = None
    name: str
    role: str
    token: str = Field(description="Shown once; only its hash is stored")


class TokenPublic(BaseModel):
    id: int
    name: str
    prefix: str
    user: str
    role: str
    created_at: datetime
    revoked_at: datetime | None


class Me(BaseModel):
    name: str
    role: str
