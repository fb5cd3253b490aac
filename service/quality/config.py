"""The ``[quality]`` section of linewatch.toml: dispositions, defect catalogue, cost models.

Applied like the rest of the file (see `service.config_file`): what is missing is created, what
differs is updated (audited with the actor ``config:<file>``), nothing is deleted; unknown keys
are an error and nothing is applied unless the whole section is valid. A cost model version is
identified by its site and ``valid_from``; changing its rates in the file re-costs its records.
See deploy/quality.example.toml for every option.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from service.errors import ServiceError
from service.quality import catalogue, cost_models
from service.quality.schemas import (
    CostModelCreate,
    CostProduct,
    DefectCodeCreate,
    DispositionCreate,
)
from service.storage.repository import Store


class QualityConfigError(ValueError):
    """The section is invalid; the message names the entry and the field."""


class CostModelEntry(CostModelCreate):
    products: list[CostProduct] = Field(default_factory=list, alias="product")


class QualitySection(BaseModel):
    model_config = ConfigDict(extra="forbid")
    disposition: list[DispositionCreate] = Field(default_factory=list)
    defect_code: list[DefectCodeCreate] = Field(default_factory=list)
    cost_model: list[CostModelEntry] = Field(default_factory=list)


@dataclass
class QualityApplied:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)


def parse_quality(data: dict[str, Any] | None) -> QualitySection:
    try:
        return QualitySection.model_validate(data or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in ("quality", *first["loc"]))
        raise QualityConfigError(f"{where}: {first['msg']}") from None


def apply_quality_config(
    store: Store, data: dict[str, Any] | None, *, actor: str = "config:linewatch.toml"
) -> QualityApplied:
    """Apply the ``[quality]`` table `data` (as parsed from TOML) in one transaction."""
    section = parse_quality(data)
    applied = QualityApplied()
    repo = store.repo
    try:
        with store.transaction() as tx:
            for disposition in section.disposition:
                wanted = disposition.model_dump()
                existing = {d["key"]: d for d in catalogue.list_dispositions(tx)}
                current = existing.get(wanted["key"])
                if current is None:
                    catalogue.create_disposition(tx, repo, wanted, actor=actor)
                    applied.created.append(f"disposition:{wanted['key']}")
                elif changes := _changes(current, wanted, ("name", "basis", "active")):
                    catalogue.update_disposition(tx, repo, wanted["key"], changes, actor=actor)
                    applied.updated.append(f"disposition:{wanted['key']}")
            codes = {c["code"]: c for c in catalogue.list_codes(tx)}
            for code in section.defect_code:
                wanted = code.model_dump()
                current = codes.get(wanted["code"])
                if current is None:
                    catalogue.create_code(tx, repo, wanted, actor=actor)
                    applied.created.append(f"defect_code:{wanted['code']}")
                elif changes := _changes(
                    current, wanted, ("name", "category", "description", "active")
                ):
                    catalogue.update_code(tx, repo, wanted["code"], changes, actor=actor)
                    applied.updated.append(f"defect_code:{wanted['code']}")
            for model in section.cost_model:
                wanted = model.model_dump()
                label = f"cost_model:{wanted['site']}@{wanted['valid_from']}"
                current = next(
                    (
                        m
                        for m in cost_models.list_models(tx, site=wanted["site"])
                        if m["valid_from"] == wanted["valid_from"]
                    ),
                    None,
                )
                if current is None:
                    cost_models.create_model(tx, repo, wanted, actor=actor)
                    applied.created.append(label)
                elif _rates(current) != _rates(wanted):
                    cost_models.replace_model(tx, repo, current["id"], wanted, actor=actor)
                    applied.updated.append(label)
    except ServiceError as exc:
        raise QualityConfigError(f"quality: {exc.detail}") from exc
    return applied


def apply_quality_file(store: Store, path: Path) -> QualityApplied:
    """Read `path` (linewatch.toml) and apply its ``[quality]`` table, if it has one."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise QualityConfigError(f"{path}: {exc}") from exc
    try:
        return apply_quality_config(store, document.get("quality"), actor=f"config:{path.name}")
    except QualityConfigError as exc:
        raise QualityConfigError(f"{path}: {exc}") from None


def _changes(
    current: dict[str, Any], wanted: dict[str, Any], fields: tuple[str, ...]
) -> dict[str, Any]:
    return {f: wanted[f] for f in fields if current.get(f) != wanted.get(f)}


def _rates(model: dict[str, Any]) -> tuple[Any, ...]:
    products = sorted(
        (
            p["product"],
            float(p["unit_cost"]),
            float(p.get("rework_material", 0.0)),
            float(p.get("customer_return_cost", 0.0)),
            float(p.get("supplier_return_cost", 0.0)),
            tuple(sorted((k, float(v)) for k, v in (p.get("stations") or {}).items())),
        )
        for p in model["products"]
    )
    return (model["currency"], float(model["labour_rate"]), model.get("note"), tuple(products))
