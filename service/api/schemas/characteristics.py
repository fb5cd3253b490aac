from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from service.api.schemas.common import Finite, Key, Name, Strict, Text

ChartKind = Literal["imr", "xbar-r", "xbar-s", "p", "np", "c", "u", "ewma", "cusum"]
PARAM_NAMES = ("nsigmas", "lam", "L", "k", "h", "head_start")


def check_rules(value: str | list[str]) -> str | list[str]:
    import spc

    try:
        spc.resolve_rules(value)
    except spc.SpcError as exc:
        raise ValueError(str(exc)) from None
    return value


def check_sigma_method(value: str | None) -> str | None:
    import spc

    if value is not None and value not in spc.SIGMA_METHODS:
        raise ValueError(f"must be one of {', '.join(spc.SIGMA_METHODS)}")
    return value


def check_params(value: dict[str, Finite]) -> dict[str, float]:
    unknown = sorted(set(value) - set(PARAM_NAMES))
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown}; allowed: {', '.join(PARAM_NAMES)}")
    return value


class CharacteristicBase(Strict):
    name: Name
    unit: str | None = Field(default=None, max_length=40)
    description: Text | None = None
    station: Key | None = Field(default=None, description="Key of the station it is measured at")
    chart: ChartKind
    subgroup_size: int = Field(
        default=1,
        ge=1,
        le=100_000,
        description="X̄ charts: measurements per subgroup; p, np, u: the sample size each count "
        "refers to; 1 for imr, ewma, cusum and c",
    )
    subgroup_by: Literal["size", "field"] = Field(
        default="size",
        description='"size": consecutive measurements; "field": by the measurements\' subgroup',
    )
    lsl: Finite | None = None
    usl: Finite | None = None
    target: Finite | None = None
    rules: str | list[str] = Field(
        default="western-electric",
        description='"western-electric", "nelson", "none" or a list such as ["WE1", "N3"]',
    )
    sigma_method: str | None = None
    decimals: int | None = Field(default=None, ge=0, le=12)
    params: dict[str, Finite] = Field(
        default_factory=dict, description="nsigmas; lam and L (ewma); k, h, head_start (cusum)"
    )
    auto_limits_after: int | None = Field(
        default=None,
        ge=2,
        le=10_000,
        description="Compute and approve limits automatically after this many subgroups",
    )

    _rules = field_validator("rules")(check_rules)
    _sigma = field_validator("sigma_method")(check_sigma_method)
    _params = field_validator("params")(check_params)

    @model_validator(mode="after")
    def _consistent(self) -> CharacteristicBase:
        if self.lsl is not None and self.usl is not None and not self.lsl < self.usl:
            raise ValueError("lsl must be below usl")
        grouped = self.chart in ("xbar-r", "xbar-s") and self.subgroup_by == "size"
        if grouped and self.subgroup_size < 2:
            raise ValueError(f"subgroup_size must be at least 2 for an {self.chart} chart")
        if self.chart in ("imr", "ewma", "cusum", "c") and self.subgroup_size != 1:
            raise ValueError(f"subgroup_size must be 1 for a {self.chart} chart")
        if self.chart in ("p", "np", "u", "c") and self.sigma_method is not None:
            raise ValueError("sigma_method does not apply to attribute charts")
        return self


class CharacteristicCreate(CharacteristicBase):
    key: Key


class CharacteristicUpdate(Strict):
    name: Name | None = None
    unit: str | None = Field(default=None, max_length=40)
    description: Text | None = None
    station: Key | None = None
    chart: ChartKind | None = None
    subgroup_size: int | None = Field(default=None, ge=1, le=100_000)
    subgroup_by: Literal["size", "field"] | None = None
    lsl: Finite | None = None
    usl: Finite | None = None
    target: Finite | None = None
    rules: str | list[str] | None = None
    sigma_method: str | None = None
    decimals: int | None = Field(default=None, ge=0, le=12)
    params: dict[str, Finite] | None = None
    auto_limits_after: int | None = Field(default=None, ge=2, le=10_000)
    reason: Text | None = Field(default=None, description="Why (kept in the audit log)")

    _rules = field_validator("rules")(lambda v: None if v is None else check_rules(v))
    _sigma = field_validator("sigma_method")(check_sigma_method)
    _params = field_validator("params")(lambda v: None if v is None else check_params(v))


class CharacteristicPublic(BaseModel):
    key: str
    name: str
    unit: str | None
    description: str | None
    station: str | None
    line: str | None
    site: str | None
    chart: str
    subgroup_size: int
    subgroup_by: str
    lsl: float | None
    usl: float | None
    target: float | None
    rules: str | list[str]
    sigma_method: str | None
    decimals: int | None
    params: dict[str, float]
    auto_limits_after: int | None
    current_limit_version: int | None = None
    created_at: datetime
    updated_at: datetime
