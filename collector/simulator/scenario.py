"""What a simulated plant looks like: characteristics, their process and injected faults.

A scenario is plain data (a dict from JSON or TOML, or the built-in `demo`), validated here
without numpy so that a bad file is refused with the offending field named before anything
starts. Behaviour sizes are in sigma units of the plotted quantity (σ of one part for variables,
√(mean count) for defects, √(n·p·(1−p)) for defectives), so that "a 1.5σ shift" means the same
thing on every chart (Montgomery, Introduction to SPC, 8th ed., §5.3 and §7).

A scenario file (`linewatch simulate --scenario line.toml`; JSON with the same fields works too):

    name = "press line"
    seed = 7
    [[characteristics]]
    key = "line1.op20.bore"       # line.station.name
    mean = 74.0
    sigma = 0.01
    period = 1.0                  # simulated seconds between parts
    subgroup_size = 5             # consecutive parts per subgroup (1: individuals)
    lot_parts = 100               # parts per lot (lot and serial are published with each value)
    decimals = 4                  # gauge resolution
    [[characteristics.behaviours]]
    kind = "shift"                # shift | trend | variance | stuck | dropout | fault
    at = 60                       # seconds after the start; `duration` ends it (default: never)
    size = 1.5                    # sigma; trend: slope (sigma/min); variance: factor;
                                  # dropout: probability (default 1)
    [[characteristics]]
    key = "line1.op40.defects"
    kind = "defects"              # Poisson count per lot; "defectives": Binomial
    lot_size = 50
    rate = 0.08                   # defects per unit (defectives: fraction defective)
    period = 10.0
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Kind = Literal["variable", "defects", "defectives"]
BehaviourKind = Literal["shift", "trend", "variance", "stuck", "dropout", "fault"]
KINDS: tuple[str, ...] = ("variable", "defects", "defectives")
BEHAVIOURS: tuple[str, ...] = ("shift", "trend", "variance", "stuck", "dropout", "fault")
_KEY = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")


class ScenarioError(ValueError):
    """A scenario that cannot be simulated; `argument` names the offending field."""

    def __init__(self, argument: str, message: str) -> None:
        super().__init__(f"{argument}: {message}")
        self.argument = argument


@dataclass(frozen=True, slots=True)
class Behaviour:
    """A departure from the in-control process during [at, at + duration) seconds of simulated time.

    shift: mean += size·σ. trend: mean += slope·σ per minute since `at`. variance: σ *= factor.
    stuck: the sensor repeats its last value. dropout: each sample is lost with `probability`.
    fault: samples carry quality "bad" (a sensor that reports a value it knows is wrong).
    """

    kind: BehaviourKind
    at: float = 0.0
    duration: float | None = None
    size: float = 0.0
    slope: float = 0.0
    factor: float = 1.0
    probability: float = 1.0

    def active(self, t: float) -> bool:
        return t >= self.at and (self.duration is None or t < self.at + self.duration)


@dataclass(frozen=True, slots=True)
class CharacteristicSpec:
    """One measured quality characteristic, keyed `line.station.name` (e.g. line1.op10.bore).

    `period` is the simulated seconds between two parts (variables) or two lots (attributes).
    Variables are N(mean, sigma) per part, grouped `subgroup_size` consecutive parts to a subgroup
    and `lot_parts` to a lot. Defects are Poisson(lot_size·rate) per lot (c and u charts);
    defectives are Binomial(lot_size, rate) per lot (p and np charts).
    """

    key: str
    kind: Kind = "variable"
    name: str = ""
    unit: str = ""
    period: float = 1.0
    mean: float = 0.0
    sigma: float = 1.0
    subgroup_size: int = 1
    lot_parts: int | None = None
    lot_size: int = 1
    rate: float = 0.0
    decimals: int | None = None
    serials: bool = True
    chart: str | None = None
    lsl: float | None = None
    usl: float | None = None
    target: float | None = None
    behaviours: tuple[Behaviour, ...] = ()

    @property
    def line(self) -> str:
        return self.key.split(".")[0]

    @property
    def station(self) -> str:
        return self.key.split(".")[1]

    @property
    def short_name(self) -> str:
        return self.key.split(".")[2]

    @property
    def has_lot(self) -> bool:
        return self.kind != "variable" or self.lot_parts is not None

    @property
    def has_subgroup(self) -> bool:
        return self.kind == "variable" and self.subgroup_size > 1

    @property
    def has_serial(self) -> bool:
        return self.kind == "variable" and self.serials


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    characteristics: tuple[CharacteristicSpec, ...]
    seed: int | None = None
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def characteristic(self, key: str) -> CharacteristicSpec:
        for spec in self.characteristics:
            if spec.key == key:
                return spec
        raise KeyError(key)


_BEHAVIOUR_FIELDS = {"kind", "at", "duration", "size", "slope", "factor", "probability"}
_SPEC_FIELDS = {
    "key",
    "kind",
    "name",
    "unit",
    "period",
    "mean",
    "sigma",
    "subgroup_size",
    "lot_parts",
    "lot_size",
    "rate",
    "decimals",
    "serials",
    "chart",
    "lsl",
    "usl",
    "target",
    "behaviours",
}
_SCENARIO_FIELDS = {"name", "seed", "description", "characteristics"}


def _unknown(where: str, data: dict[str, Any], allowed: set[str]) -> None:
    extra = sorted(set(data) - allowed)
    if extra:
        raise ScenarioError(f"{where}.{extra[0]}", "unknown field")


def _number(
    where: str, value: Any, *, positive: bool = False, minimum: float | None = None
) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScenarioError(where, f"must be a number, got {value!r}")
    x = float(value)
    if x != x or x in (float("inf"), float("-inf")):
        raise ScenarioError(where, "must be finite")
    if positive and x <= 0:
        raise ScenarioError(where, f"must be > 0, got {value!r}")
    if minimum is not None and x < minimum:
        raise ScenarioError(where, f"must be >= {minimum}, got {value!r}")
    return x


def _integer(where: str, value: Any, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ScenarioError(where, f"must be an integer >= {minimum}, got {value!r}")
    return int(value)


def parse_behaviour(where: str, data: dict[str, Any], kind: Kind) -> Behaviour:
    if not isinstance(data, dict):
        raise ScenarioError(where, "must be a table/object")
    _unknown(where, data, _BEHAVIOUR_FIELDS)
    bkind = data.get("kind")
    if bkind not in BEHAVIOURS:
        raise ScenarioError(
            f"{where}.kind", f"must be one of {', '.join(BEHAVIOURS)}, got {bkind!r}"
        )
    if bkind == "variance" and kind != "variable":
        raise ScenarioError(f"{where}.kind", "variance applies to variable characteristics only")
    duration = data.get("duration")
    probability = _number(f"{where}.probability", data.get("probability", 1.0), minimum=0.0)
    if probability > 1:
        raise ScenarioError(f"{where}.probability", f"must be <= 1, got {probability}")
    return Behaviour(
        kind=bkind,
        at=_number(f"{where}.at", data.get("at", 0.0), minimum=0.0),
        duration=None
        if duration is None
        else _number(f"{where}.duration", duration, positive=True),
        size=_number(f"{where}.size", data.get("size", 0.0)),
        slope=_number(f"{where}.slope", data.get("slope", 0.0)),
        factor=_number(f"{where}.factor", data.get("factor", 1.0), positive=True),
        probability=probability,
    )


def parse_characteristic(where: str, data: dict[str, Any]) -> CharacteristicSpec:
    if not isinstance(data, dict):
        raise ScenarioError(where, "must be a table/object")
    _unknown(where, data, _SPEC_FIELDS)
    key = data.get("key")
    if not isinstance(key, str) or not _KEY.match(key):
        raise ScenarioError(f"{where}.key", f"must look like line.station.name, got {key!r}")
    kind = data.get("kind", "variable")
    if kind not in KINDS:
        raise ScenarioError(f"{where}.kind", f"must be one of {', '.join(KINDS)}, got {kind!r}")
    lot_parts = data.get("lot_parts")
    decimals = data.get("decimals")
    rate = _number(f"{where}.rate", data.get("rate", 0.0), minimum=0.0)
    if kind == "defectives" and rate > 1:
        raise ScenarioError(f"{where}.rate", f"a fraction defective must be <= 1, got {rate}")
    if kind != "variable" and rate <= 0:
        raise ScenarioError(f"{where}.rate", "attribute characteristics need a rate > 0")
    behaviours = data.get("behaviours", [])
    if not isinstance(behaviours, list):
        raise ScenarioError(f"{where}.behaviours", "must be a list")
    opt = {name: data.get(name) for name in ("lsl", "usl", "target")}
    return CharacteristicSpec(
        key=key,
        kind=kind,
        name=str(data.get("name", key.split(".")[-1])),
        unit=str(data.get("unit", "")),
        period=_number(f"{where}.period", data.get("period", 1.0), positive=True),
        mean=_number(f"{where}.mean", data.get("mean", 0.0)),
        sigma=_number(f"{where}.sigma", data.get("sigma", 1.0), positive=True),
        subgroup_size=_integer(f"{where}.subgroup_size", data.get("subgroup_size", 1), minimum=1),
        lot_parts=None
        if lot_parts is None
        else _integer(f"{where}.lot_parts", lot_parts, minimum=1),
        lot_size=_integer(f"{where}.lot_size", data.get("lot_size", 1), minimum=1),
        rate=rate,
        decimals=None if decimals is None else _integer(f"{where}.decimals", decimals, minimum=0),
        serials=bool(data.get("serials", True)),
        chart=data.get("chart"),
        lsl=None if opt["lsl"] is None else _number(f"{where}.lsl", opt["lsl"]),
        usl=None if opt["usl"] is None else _number(f"{where}.usl", opt["usl"]),
        target=None if opt["target"] is None else _number(f"{where}.target", opt["target"]),
        behaviours=tuple(
            parse_behaviour(f"{where}.behaviours[{i}]", b, kind) for i, b in enumerate(behaviours)
        ),
    )


def parse_scenario(data: dict[str, Any]) -> Scenario:
    """Validates a scenario dict (as loaded from JSON or TOML) into a `Scenario`."""
    if not isinstance(data, dict):
        raise ScenarioError("scenario", "must be a table/object")
    _unknown("scenario", data, _SCENARIO_FIELDS)
    chars = data.get("characteristics")
    if not isinstance(chars, list) or not chars:
        raise ScenarioError("characteristics", "must be a non-empty list")
    specs = tuple(parse_characteristic(f"characteristics[{i}]", c) for i, c in enumerate(chars))
    seen: set[str] = set()
    for i, spec in enumerate(specs):
        if spec.key in seen:
            raise ScenarioError(f"characteristics[{i}].key", f"duplicate key {spec.key!r}")
        seen.add(spec.key)
    seed = data.get("seed")
    return Scenario(
        name=str(data.get("name", "scenario")),
        characteristics=specs,
        seed=None if seed is None else _integer("seed", seed, minimum=0),
        description=str(data.get("description", "")),
    )


def load_scenario(source: str | Path) -> Scenario:
    """A built-in name (`demo`, `load:N@HZ`) or a .json/.toml file."""
    from collector.simulator.builtin import builtin_scenario

    text = str(source)
    builtin = builtin_scenario(text)
    if builtin is not None:
        return parse_scenario(builtin)
    path = Path(text)
    if not path.is_file():
        raise ScenarioError("scenario", f"no built-in scenario or file named {text!r}")
    raw = path.read_bytes()
    try:
        data = tomllib.loads(raw.decode()) if path.suffix == ".toml" else json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ScenarioError("scenario", f"{path.name} is not valid: {exc}") from None
    return parse_scenario(data)
