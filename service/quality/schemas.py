"""Request and response models of the quality API (Create / Update / Public families)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, field_validator

from service.api.schemas.common import Finite, Key, Name, Strict, Text

Basis = Literal["scrap", "rework", "repair", "use_as_is", "return_to_supplier", "customer_return"]
Category = Annotated[
    str,
    Field(
        pattern=r"^[a-z0-9][a-z0-9_\-]{0,63}$",
        examples=["dimensional"],
        description="Lower-case word: dimensional, surface, assembly, material, ...",
    ),
]
Money = Annotated[Finite, Field(ge=0)]
Currency = Annotated[
    str, Field(pattern=r"^[A-Z]{3}$", examples=["EUR"], description="ISO 4217 code")
]
Product = Annotated[
    str,
    Field(
        min_length=1,
        max_length=200,
        examples=["P-100"],
        description='Part number; "*" is every product without its own entry',
    ),
]


# --- catalogue ----------------------------------------------------------------------------------
class DefectCodeCreate(Strict):
    code: Key
    name: Name
    category: Category
    description: Text | None = None
    active: bool = True


class DefectCodeUpdate(Strict):
    name: Name | None = None
    category: Category | None = None
    description: Text | None = None
    active: bool | None = None


class DefectCodePublic(BaseModel):
    code: str
    name: str
    category: str
    description: str | None
    active: bool
    created_at: datetime
    updated_at: datetime


class DispositionCreate(Strict):
    key: Key
    name: Name
    basis: Basis = Field(description="How its records are costed (service.quality.costing)")
    active: bool = True


class DispositionUpdate(Strict):
    name: Name | None = None
    basis: Basis | None = None
    active: bool | None = None


class DispositionPublic(BaseModel):
    key: str
    name: str
    basis: str
    active: bool
    created_at: datetime
    updated_at: datetime


# --- records ------------------------------------------------------------------------------------
class DefectIn(BaseModel):
    """One nonconformance record (documentation: records are checked one by one, so that a bad
    record is rejected with its reason without failing the batch)."""

    ts: str = Field(examples=["2026-03-02T06:14:00Z"], description="ISO 8601 with a zone")
    line: str = Field(examples=["line1"])
    station: str | None = Field(
        default=None,
        examples=["line1.op30"],
        description="Station of rejection (a station of the line)",
    )
    product: str = Field(examples=["P-100"], description="Part number")
    lot: str | None = None
    serial: str | None = None
    defect_code: str = Field(examples=["DIM-001"])
    disposition: str = Field(examples=["scrap"])
    quantity: int = Field(default=1, gt=0, description="Nonconforming units")
    rework_minutes: float = Field(default=0.0, ge=0, description="Labour spent on them")
    reported_by: str | None = Field(default=None, description="Who found it (badge, name)")
    note: str | None = None
    source: str | None = Field(default=None, description="Sender, for replays (with seq)")
    seq: int | None = Field(default=None, ge=0, description="Sequence number per source")


class DefectBatch(BaseModel):
    defects: list[DefectIn]


class GoodUnitsIn(BaseModel):
    """Units that passed without a nonconformance, counted up to `ts` since the last count."""

    ts: str = Field(examples=["2026-03-02T06:15:00Z"])
    line: str = Field(examples=["line1"])
    product: str = Field(examples=["P-100"])
    quantity: int = Field(ge=0, examples=[57])
    source: str | None = None
    seq: int | None = Field(default=None, ge=0)


class GoodUnitsBatch(BaseModel):
    good_units: list[GoodUnitsIn]


class Rejection(BaseModel):
    index: int
    error: str


class BatchAnswer(BaseModel):
    accepted: int
    duplicates: int
    rejected: list[Rejection]
    ids: list[int] = Field(description="Ids of the stored records, in the order sent")


class DefectPublic(BaseModel):
    id: int
    ts: datetime
    site: str
    line: str
    station: str | None
    product: str
    lot: str | None
    serial: str | None
    defect_code: str
    category: str
    disposition: str
    basis: str
    quantity: int
    rework_minutes: float
    recorded_by: str
    reported_by: str | None
    note: str | None
    source: str | None
    seq: int | None
    created_at: datetime
    cost: float | None = Field(description="Null when uncosted or for roles below manager")
    currency: str | None
    cost_model_id: int | None


# --- cost models --------------------------------------------------------------------------------
class CostProduct(Strict):
    product: Product
    unit_cost: Money = Field(description="Cost of a finished unit (material + labour)")
    rework_material: Money = Field(default=0.0, description="Material per reworked unit")
    customer_return_cost: Money = Field(
        default=0.0, description="Per returned unit on top of unit_cost: handling, freight"
    )
    supplier_return_cost: Money = Field(default=0.0, description="Handling per unit returned")
    stations: dict[str, Money] = Field(
        default_factory=dict,
        description="Unit cost up to each station (material + labour), by station key",
        examples=[{"line1.op10": 12.0, "line1.op20": 18.5}],
    )


class CostModelBody(Strict):
    currency: Currency
    labour_rate: Money = Field(description="Per hour, for rework minutes")
    note: Text | None = None
    products: list[CostProduct] = Field(default_factory=list)

    @field_validator("products")
    @classmethod
    def _unique(cls, value: list[CostProduct]) -> list[CostProduct]:
        seen: set[str] = set()
        for p in value:
            if p.product in seen:
                raise ValueError(f"product {p.product!r} is listed twice")
            seen.add(p.product)
        return value


class CostModelCreate(CostModelBody):
    site: Key
    valid_from: date = Field(description="First UTC day it applies to")


class CostModelUpdate(CostModelBody):
    """Replaces the rates of a version (its site and valid_from stay)."""


class CostProductPublic(BaseModel):
    product: str
    unit_cost: float
    rework_material: float
    customer_return_cost: float
    supplier_return_cost: float
    stations: dict[str, float]


class CostModelPublic(BaseModel):
    id: int
    site: str
    valid_from: date
    valid_to: date | None = Field(description="Exclusive; the next version's valid_from")
    currency: str
    labour_rate: float
    note: str | None
    products: list[CostProductPublic]
    created_by: str
    created_at: datetime
    updated_at: datetime
    recosted: int | None = Field(default=None, description="Records re-costed by this change")


# --- queries ------------------------------------------------------------------------------------
class CostRow(BaseModel):
    bucket: datetime
    key: str | None
    name: str | None
    currency: str | None
    records: int
    quantity: int
    rework_minutes: float
    cost: float
    uncosted: int = Field(description="Records without rates (not in cost)")


class CostTotal(BaseModel):
    currency: str | None
    records: int
    quantity: int
    rework_minutes: float
    cost: float
    uncosted: int


class QualityCostAnswer(BaseModel):
    bucket: str
    by: str
    from_: datetime = Field(alias="from")
    to: datetime
    source: str = Field(description="Roll-up table read, or 'records'")
    rows: list[CostRow]
    totals: list[CostTotal]


class ParetoItem(BaseModel):
    key: str | None
    name: str | None
    value: float
    share: float | None
    cumulative_share: float | None
    records: int
    quantity: int
    rework_minutes: float
    cost: float
    uncosted: int


class ParetoAnswer(BaseModel):
    by: str
    measure: str
    from_: datetime = Field(alias="from")
    to: datetime
    source: str
    currency: str | None
    total: float
    items: list[ParetoItem]
    other: dict[str, Any] | None


class MoverItem(BaseModel):
    key: str | None
    name: str | None
    current: float
    previous: float
    delta: float
    change: float | None = Field(description="delta / previous; null when previous is 0")


class MoversAnswer(BaseModel):
    by: str
    measure: str
    current: dict[str, datetime]
    previous: dict[str, datetime]
    source: str
    currency: str | None
    items: list[MoverItem]


class RateRow(BaseModel):
    bucket: datetime
    key: str | None
    name: str | None
    good: int
    nonconforming: int
    scrapped: int
    reworked: int
    customer_returns: int
    total: int
    fpy: float | None
    ppm: float | None
    scrap_rate: float | None
    rework_rate: float | None


class RatesAnswer(BaseModel):
    bucket: str
    by: str
    from_: datetime = Field(alias="from")
    to: datetime
    source: str
    rows: list[RateRow]


class SpcAlarmLink(BaseModel):
    alarm_id: int
    characteristic: str
    series: str
    rule: str
    state: str
    opened_at: datetime
    first_ts: datetime
    last_ts: datetime
    hits: int
    match: list[Literal["line", "lot"]]
    lead_seconds: float = Field(description="From the alarm's first violation to the record")


class SpcLinksAnswer(BaseModel):
    defect: dict[str, Any]
    window_hours: float
    warned: bool
    alarms: list[SpcAlarmLink]


class SpcCoverageRow(BaseModel):
    line: str
    records: int
    warned: int = Field(description="Records an alarm on the same line or lot preceded")
    share: float


class SpcCoverageAnswer(BaseModel):
    from_: datetime = Field(alias="from")
    to: datetime
    window_hours: float
    rows: list[SpcCoverageRow]
