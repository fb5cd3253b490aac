"""Printing the chart document: exact JSON for scripts, a rich table for people.

The table is drawn from the same document as the JSON, so the two never disagree. JSON numbers
keep full precision (Python's shortest round-trip repr); NaN or infinity, which JSON cannot
carry, become null.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Mapping, Sequence
from typing import Any

MAX_TABLE_POINTS = 200


def to_json(document: Mapping[str, Any]) -> str:
    try:
        return json.dumps(document, allow_nan=False, default=_plain)
    except ValueError:  # a NaN or an infinity somewhere: rare, so only then walk the tree
        return json.dumps(_finite(document), allow_nan=False, default=_plain)


def print_json(document: Mapping[str, Any]) -> None:
    sys.stdout.write(to_json(document) + "\n")


def _plain(obj: Any) -> Any:
    """numpy scalars and arrays, should any reach us, as plain Python values."""
    if hasattr(obj, "tolist"):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {key: _finite(value) for key, value in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(value) for value in obj]
    if hasattr(obj, "tolist"):
        return _finite(obj.tolist())
    return obj


def _num(x: Any) -> str:
    if x is None:
        return ""
    if isinstance(x, float):
        if not math.isfinite(x):
            return str(x)
        return f"{x:.8g}"
    return str(x)


def print_table(document: Mapping[str, Any]) -> None:
    from rich.console import Console

    console = Console(highlight=False)
    _print_chart(console, document, title=None)
    dispersion = document.get("dispersion")
    if dispersion:
        _print_chart(console, dispersion, title=f"{dispersion.get('chart', '')} chart")
    capability = document.get("capability")
    if capability:
        _print_capability(console, capability)


def _print_chart(console: Any, chart: Mapping[str, Any], title: str | None) -> None:
    from rich.table import Table

    points: Sequence[Mapping[str, Any]] = chart.get("points", [])
    flagged = [p for p in points if p.get("violations")]
    head = [f"[bold]{title or chart.get('chart', '')}[/bold]"]
    for key in ("center", "sigma"):
        if chart.get(key) is not None:
            head.append(f"{key} {_num(chart[key])}")
    if chart.get("phase1") is not None:
        head.append(f"phase I {chart['phase1']}")
    if chart.get("rules") is not None:
        head.append(f"rules {chart['rules']}")
    head.append(f"{len(flagged)} of {len(points)} points with violations")
    console.print("  ".join(head))

    shown = points if len(points) <= MAX_TABLE_POINTS else flagged
    if len(shown) < len(points):
        console.print(
            f"showing only the {len(shown)} points with violations; --format json lists all"
        )
    if not shown:
        return
    keys = [key for key in ("i", "n", "stat", "upper", "lower", "lcl", "ucl") if key in shown[0]]
    table = Table(show_edge=False, pad_edge=False)
    for key in keys:
        table.add_column(key, justify="right")
    table.add_column("violations")
    for point in shown:
        violations = point.get("violations") or []
        table.add_row(
            *(_num(point.get(key)) for key in keys),
            ", ".join(violations),
            style="bold red" if violations else None,
        )
    console.print(table)


def _print_capability(console: Any, capability: Mapping[str, Any]) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="capability (phase I data)", show_edge=False, pad_edge=False)
    table.add_column("index")
    table.add_column("value", justify="right")
    table.add_column("95% CI", justify="right")
    ci95 = capability.get("ci95") or {}
    warnings: list[str] = []
    for key, value in capability.items():
        if key == "ci95":
            continue
        if isinstance(value, Mapping):  # ppm, normality: one row per entry
            for sub_key, sub_value in value.items():
                if sub_key == "warning" and sub_value:
                    warnings.append(str(sub_value))
                elif sub_value is not None:
                    table.add_row(f"{key} {sub_key}", _num(sub_value), "")
            continue
        bounds = ci95.get(key)
        interval = f"{_num(bounds[0])} .. {_num(bounds[1])}" if bounds else ""
        table.add_row(key, _num(value), interval)
    console.print(table)
    for warning in warnings:
        console.print(f"[yellow]warning: {escape(warning)}[/yellow]")
