"""Declarative configuration: `linewatch.toml`, applied at every start (and by `load_config`).

The file describes the plant hierarchy, the characteristics and the alarm code lists; applying it
creates what is missing and updates what differs (audited with actor ``config:<file>``),
and never deletes anything. Unknown keys are an error, as are values the API would refuse;
nothing is applied unless the whole file is valid. Top-level tables that are not ours (such as
``[alerting]``) belong to other parts, which read them themselves: they are skipped here.
See deploy/linewatch.example.toml for every option with its default.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from service import characteristics as char_service
from service import limits as limit_service
from service.api.schemas.characteristics import CharacteristicCreate
from service.api.schemas.plant import LineCreate, SiteCreate, StationCreate
from service.errors import ServiceError
from service.storage.repository import Store


class ConfigError(ValueError):
    """The file is invalid; the message names the file, the entry and the field."""


class KnownLimits(BaseModel):
    model_config = ConfigDict(extra="forbid")
    center: float
    sigma: float = Field(gt=0)
    reason: str | None = None


class CharacteristicEntry(CharacteristicCreate):
    limits: KnownLimits | None = None


class AlarmCodes(BaseModel):
    model_config = ConfigDict(extra="forbid")
    causes: list[str] | None = None
    actions: list[str] | None = None
    strict: bool | None = None


class ConfigFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    alarm_codes: AlarmCodes = Field(default_factory=AlarmCodes)
    site: list[SiteCreate] = Field(default_factory=list)
    line: list[LineCreate] = Field(default_factory=list)
    station: list[StationCreate] = Field(default_factory=list)
    characteristic: list[CharacteristicEntry] = Field(default_factory=list)


@dataclass
class Applied:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    approved: list[str] = field(default_factory=list)
    causes: list[str] | None = None
    actions: list[str] | None = None
    strict_codes: bool | None = None


def read_config(path: Path) -> ConfigFile:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    ours = {k: v for k, v in raw.items() if k in ConfigFile.model_fields or not isinstance(v, dict)}
    try:
        return ConfigFile.model_validate(ours)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{path}: {where}: {first['msg']}") from None


def apply_config(store: Store, path: Path) -> Applied:
    """Create or update everything the file describes, in one transaction."""
    config = read_config(path)
    actor = f"config:{path.name}"
    repo = store.repo
    applied = Applied(
        causes=config.alarm_codes.causes,
        actions=config.alarm_codes.actions,
        strict_codes=config.alarm_codes.strict,
    )
    try:
        with store.transaction() as tx:
            for level, entries in (
                ("site", config.site),
                ("line", config.line),
                ("station", config.station),
            ):
                for node_entry in entries:
                    data = node_entry.model_dump()
                    node = repo.plant_get(tx, level, data["key"])
                    if node is None:
                        char_service.plant_create(tx, repo, level, data, actor=actor)
                        applied.created.append(f"{level}:{data['key']}")
                        continue
                    changes: dict[str, Any] = {}
                    if node.name != data["name"]:
                        changes["name"] = data["name"]
                    parent = data.get("site") or data.get("line")
                    if parent is not None and node.parent != parent:
                        changes["parent"] = parent
                    if level == "line" and node.area != data.get("area"):
                        changes["area"] = data.get("area")
                    if changes:
                        char_service.plant_update(
                            tx, repo, level, data["key"], changes, actor=actor
                        )
                        applied.updated.append(f"{level}:{data['key']}")
            for entry in config.characteristic:
                data = entry.model_dump(exclude={"limits"})
                existing = repo.get_characteristic(tx, data["key"])
                if existing is None:
                    char = char_service.create(tx, repo, data, actor=actor)
                    applied.created.append(f"characteristic:{char.key}")
                else:
                    current = existing.public()
                    changes = {k: v for k, v in data.items() if k != "key" and current.get(k) != v}
                    char = existing
                    if changes:
                        char = char_service.update(
                            tx, repo, existing, changes, actor=actor, reason="linewatch.toml"
                        )
                        applied.updated.append(f"characteristic:{char.key}")
                if entry.limits is not None and repo.current_version_number(tx, char.id) is None:
                    proposal = limit_service.propose(
                        tx,
                        repo,
                        char,
                        {
                            "center": entry.limits.center,
                            "sigma": entry.limits.sigma,
                            "reason": entry.limits.reason or "known limits from linewatch.toml",
                        },
                        actor=actor,
                    )
                    limit_service.approve(
                        tx, repo, char, proposal, actor=actor, reason=proposal.reason
                    )
                    applied.approved.append(f"{char.key}#{proposal.version}")
    except (ServiceError, limit_service.LimitsError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    return applied
