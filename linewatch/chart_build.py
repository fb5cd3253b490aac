"""From the `linewatch chart` options to the chart JSON document (ARCHITECTURE "CLI chart
contract"): read the CSV, build the chart with `spc`, add capability when specs are given.

Every problem becomes an `InputError` with a one-line message; `spc` errors already name the
offending argument, so their message is passed on unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from linewatch.chart_input import (
    ATTRIBUTE_KINDS,
    KINDS,
    ChartData,
    InputError,
    build_chart_data,
    read_table,
)

FORMATS = ("table", "json")
EWMA_OPTIONS = ("lam", "big_l")
CUSUM_OPTIONS = ("k", "h", "head_start")
FLAG = {"lam": "--lambda", "big_l": "--L", "k": "--k", "h": "--h", "head_start": "--head-start"}
SPC_ARGUMENT_FLAGS = {
    "lam": "--lambda",
    "L": "--L",
    "k": "--k",
    "h": "--h",
    "head_start": "--head-start",
    "sigma_method": "--sigma-method",
    "rules": "--rules",
    "phase1": "--phase1",
    "lsl": "--lsl",
    "usl": "--usl",
    "target": "--target",
}
DEFAULTS = {"lam": 0.2, "big_l": 3.0, "k": 0.5, "h": 5.0, "head_start": 0.0}


@dataclass(frozen=True)
class ChartOptions:
    file: Path
    kind: str
    value: str | None = None
    subgroup: str | None = None
    subgroup_size: int | None = None
    count: str | None = None
    size: str | None = None
    phase1: int | None = None
    rules: str = "western-electric"
    lsl: float | None = None
    usl: float | None = None
    target: float | None = None
    lam: float | None = None
    big_l: float | None = None
    k: float | None = None
    h: float | None = None
    head_start: float | None = None
    sigma_method: str | None = None
    format: str = "table"


def check_options(options: ChartOptions) -> None:
    """Reject option combinations before touching the file."""
    if options.kind not in KINDS:
        raise InputError(f"unknown chart type '{options.kind}' (choose from {', '.join(KINDS)})")
    if options.format not in FORMATS:
        raise InputError(f"unknown format '{options.format}' (choose from {', '.join(FORMATS)})")
    for name in EWMA_OPTIONS:
        if getattr(options, name) is not None and options.kind != "ewma":
            raise InputError(f"{FLAG[name]} applies to ewma charts only")
    for name in CUSUM_OPTIONS:
        if getattr(options, name) is not None and options.kind != "cusum":
            raise InputError(f"{FLAG[name]} applies to cusum charts only")
    has_specs = options.lsl is not None or options.usl is not None
    if options.kind in ATTRIBUTE_KINDS and (has_specs or options.target is not None):
        raise InputError("--lsl, --usl and --target apply to variable charts only")
    if options.target is not None and not has_specs:
        raise InputError("--target needs --lsl or --usl")
    if options.phase1 is not None and options.phase1 < 1:
        raise InputError(f"--phase1 must be at least 1, got {options.phase1}")


def build_document(options: ChartOptions) -> dict[str, Any]:
    """The chart JSON document of the CLI contract, as Python objects."""
    check_options(options)
    table = read_table(options.file)
    data = build_chart_data(
        table,
        options.kind,
        value=options.value,
        subgroup=options.subgroup,
        subgroup_size=options.subgroup_size,
        count=options.count,
        size=options.size,
    )
    n_points = data.n_points
    unit = "subgroups" if data.groups is not None else "points"
    if options.phase1 is not None and options.phase1 > n_points:
        raise InputError(
            f"--phase1 {options.phase1} is larger than the data ({n_points} {unit} in {table.name})"
        )

    import spc  # numpy and the charts: only now that the input is known to be usable
    from spc.errors import SpcError

    try:
        result = spc.chart(options.kind, _chart_data(data), **_chart_kwargs(options, data))
        document: dict[str, Any] = result.to_dict()
        if options.lsl is not None or options.usl is not None:
            phase1 = options.phase1 if options.phase1 is not None else n_points
            capability = spc.capability(
                data.point_values(phase1),
                sigma_within=result.sigma,
                lsl=options.lsl,
                usl=options.usl,
                target=options.target,
            )
            document["capability"] = capability.to_dict()
    except SpcError as exc:
        flag = SPC_ARGUMENT_FLAGS.get(exc.argument or "")
        raise InputError(f"{flag}: {exc}" if flag else str(exc)) from None
    return document


def _chart_data(data: ChartData) -> Any:
    if data.counts is not None:
        return data.counts
    if data.groups is not None:
        return data.groups
    return data.values


def _chart_kwargs(options: ChartOptions, data: ChartData) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"phase1": options.phase1, "rules": options.rules}
    if data.sizes is not None:
        kwargs["sizes"] = data.sizes
    if options.sigma_method is not None:
        kwargs["sigma_method"] = options.sigma_method
    if options.kind == "ewma":
        kwargs["lam"] = _or_default(options, "lam")
        kwargs["L"] = _or_default(options, "big_l")
    if options.kind == "cusum":
        for name in CUSUM_OPTIONS:
            kwargs[name] = _or_default(options, name)
    return kwargs


def _or_default(options: ChartOptions, name: str) -> float:
    given = getattr(options, name)
    return float(DEFAULTS[name] if given is None else given)
