from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from service.api.schemas.characteristics import check_rules, check_sigma_method
from service.api.schemas.common import Finite, Strict, Text, Timestamp


class LimitsCreate(Strict):
    """Compute from a time window or a list of subgroups, or give known center and sigma."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: Timestamp | None = Field(default=None, alias="from")
    to: Timestamp | None = None
    subgroups: list[str] | None = Field(default=None, max_length=100_000)
    first: int | None = Field(default=None, ge=1, description="Only the first N subgroups")
    center: Finite | None = None
    sigma: Finite | None = Field(default=None, gt=0)
    dispersion_center: Finite | None = Field(default=None, ge=0)
    exclude_flagged: bool = Field(
        default=False, description="Drop points that violate a rule and recompute, iteratively"
    )
    sigma_method: str | None = None
    rules: str | list[str] | None = None
    reason: Text | None = None

    _rules = field_validator("rules")(lambda v: None if v is None else check_rules(v))
    _sigma = field_validator("sigma_method")(check_sigma_method)

    @model_validator(mode="after")
    def _one_way(self) -> LimitsCreate:
        known = self.center is not None or self.sigma is not None
        window = self.from_ is not None or self.to is not None or self.subgroups is not None
        if known and window:
            raise ValueError("give either center and sigma (known limits) or a window, not both")
        if known and (self.center is None or self.sigma is None):
            raise ValueError("known limits need both center and sigma")
        if self.from_ is not None and self.to is not None and not self.from_ < self.to:
            raise ValueError("from must be before to")
        return self


class ApproveRequest(Strict):
    reason: Text | None = None


class LimitPublic(BaseModel):
    version: int
    chart: str
    center: float
    sigma: float
    nsigmas: float
    subgroup_size: float | None
    lcl: float | None
    ucl: float | None
    limits: dict[str, Any]
    rules: str | list[str]
    method: str
    phase1: dict[str, Any]
    computed_by: str
    computed_at: datetime
    reason: str | None
    approved_by: str | None
    approved_at: datetime | None
    approval_reason: str | None
    current: bool
    reproducible: bool | None = None
