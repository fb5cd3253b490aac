"""Small pure computations behind the screens: status lights, rates, MTTA, cost spikes, and the
re-judging of history against proposed limits.

Everything here takes the API's JSON shapes and returns plain values, so it is unit-tested
without a browser or a service. Rule evaluation itself is ``spc.evaluate_rules`` (the same code
the service runs), never a copy.
"""

from __future__ import annotations

import math
import statistics
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from dashboard.figures.timefmt import parse_ts

Row = Mapping[str, Any]

# Statistic sigma per point from the process sigma (ARCHITECTURE "CLI chart contract"): means
# and per-unit attribute rates shrink with the subgroup size, per-sample counts do not.
PER_ROOT_N = frozenset({"xbar-r", "xbar-s", "p", "u"})
NON_NEGATIVE = frozenset({"p", "np", "c", "u"})


def line_of(characteristic: Row) -> str:
    """The line of a characteristic: its ``line`` field, else the first part of its key."""
    if characteristic.get("line"):
        return str(characteristic["line"])
    return str(characteristic.get("key", "")).split(".")[0] or "?"


def station_of(characteristic: Row) -> str:
    """The station, without its line's prefix when its key repeats it (``line1.op20``)."""
    if characteristic.get("station"):
        station = str(characteristic["station"])
        return station.removeprefix(f"{line_of(characteristic)}.")
    parts = str(characteristic.get("key", "")).split(".")
    return parts[1] if len(parts) > 2 else "—"


def group_characteristics(
    characteristics: Iterable[Row], lines: Sequence[str] | None = None
) -> OrderedDict[str, OrderedDict[str, list[Row]]]:
    """line -> station -> characteristics, each level sorted; ``lines`` filters (None = all)."""
    grouped: OrderedDict[str, OrderedDict[str, list[Row]]] = OrderedDict()
    ordered = sorted(characteristics, key=lambda c: (line_of(c), station_of(c), str(c.get("key"))))
    for c in ordered:
        line = line_of(c)
        if lines and line not in lines:
            continue
        grouped.setdefault(line, OrderedDict()).setdefault(station_of(c), []).append(c)
    return grouped


def status_of(has_limits: bool, open_alarms: int, has_data: bool = True) -> str:
    """Status light: an open alarm wins, then missing limits, then missing data, else ok."""
    if open_alarms > 0:
        return "alarm"
    if not has_limits:
        return "no_limits"
    if not has_data:
        return "no_data"
    return "ok"


def out_of_control_rate(points: Sequence[Row]) -> float | None:
    """Share of points flagged by any rule (None without points)."""
    if not points:
        return None
    return sum(1 for p in points if p.get("violations")) / len(points)


def start_of_day(now: datetime | None = None) -> datetime:
    """Today's midnight in the host's local zone (the shop floor's "today"), as UTC."""
    local = (now or datetime.now(UTC)).astimezone()
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def time_to_ack_seconds(alarm: Row) -> float | None:
    opened, acked = alarm.get("opened_at"), alarm.get("acknowledged_at")
    if not opened or not acked:
        return None
    return (parse_ts(acked) - parse_ts(opened)).total_seconds()


def mean_time_to_ack(alarms: Iterable[Row]) -> float | None:
    """Mean of acknowledged_at - opened_at over the alarms that were acknowledged (seconds)."""
    waits = [w for w in (time_to_ack_seconds(a) for a in alarms) if w is not None]
    return statistics.fmean(waits) if waits else None


def sort_alarms(alarms: Iterable[Row]) -> list[Row]:
    """Open first, oldest first (they have waited longest); then acknowledged, then closed,
    each newest first."""
    rank = {"open": 0, "acknowledged": 1, "closed": 2}
    items = list(alarms)
    opened = sorted(
        (a for a in items if a.get("state") == "open"), key=lambda a: str(a.get("opened_at"))
    )
    rest = sorted(
        (a for a in items if a.get("state") != "open"),
        key=lambda a: str(a.get("opened_at")),
        reverse=True,
    )
    rest.sort(key=lambda a: rank.get(str(a.get("state")), 3))  # stable: keeps newest first
    return opened + rest


# -- limits preview ----------------------------------------------------------------------------


def rejudge(
    chart: Mapping[str, Any],
    *,
    center: float,
    sigma: float,
    rules: str | Sequence[str] | None = None,
    nsigmas: float = 3.0,
) -> dict[str, Any]:
    """The chart's history judged against proposed limits (center, process sigma).

    Per-point limits follow the chart kind (σ/√n for means and rates), and the rules run through
    ``spc.evaluate_rules`` over the whole series in order, so run rules see every point. The
    dispersion chart is dropped: the preview answers "what would the main chart have flagged".
    """
    import numpy as np

    from spc.rules import evaluate_rules, violations_by_point

    kind = str(chart.get("chart", "imr"))
    points = [dict(p) for p in chart.get("points") or [] if p.get("stat") is not None]
    rule_spec: str | Sequence[str] = (
        rules if rules is not None else chart.get("rules") or "western-electric"
    )
    if (
        isinstance(rule_spec, str)
        and rule_spec not in ("western-electric", "nelson", "none")
        and "," not in rule_spec
    ):
        rule_spec = "western-electric"
    stat = np.array([float(p["stat"]) for p in points])
    n = np.array([float(p.get("n") or 1) for p in points])
    sig_i = sigma / np.sqrt(n) if kind in PER_ROOT_N else np.full(len(points), float(sigma))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(sig_i > 0, (stat - center) / sig_i, np.nan)
    flags = evaluate_rules(z, stat, rule_spec) if len(points) else {}
    marks = violations_by_point(flags, len(points)) if len(points) else []
    for k, p in enumerate(points):
        lo = center - nsigmas * float(sig_i[k])
        p["lcl"] = max(lo, 0.0) if kind in NON_NEGATIVE else lo
        p["ucl"] = center + nsigmas * float(sig_i[k])
        p["center"] = center
        p["violations"] = marks[k]
        p["alarm_id"] = None
    out = {k: v for k, v in chart.items() if k not in ("points", "dispersion")}
    out.update(points=points, center=center, sigma=sigma)
    return out


def flag_counts(points: Iterable[Row]) -> tuple[int, dict[str, int]]:
    """(points flagged by any rule, {rule: points it flagged})."""
    total = 0
    by_rule: dict[str, int] = {}
    for p in points:
        violations = p.get("violations") or ()
        if violations:
            total += 1
        for rule in violations:
            by_rule[rule] = by_rule.get(rule, 0) + 1
    return total, by_rule


# -- quality cost ------------------------------------------------------------------------------


def period_start(period: str) -> datetime:
    """Start of a bucket label: ``2026-11-20``, ``2026-11-20T00:00:00Z``, ``2026-W47``,
    ``2026-11``."""
    text = str(period)
    if "-W" in text:
        return datetime.strptime(f"{text}-1", "%G-W%V-%u").replace(tzinfo=UTC)
    if len(text) == 7:
        text += "-01"
    return parse_ts(text)


def row_cost(row: Row) -> float:
    if row.get("scrap_cost") is not None or row.get("rework_cost") is not None:
        return float(row.get("scrap_cost") or 0) + float(row.get("rework_cost") or 0)
    return float(row.get("cost") or 0)


def cost_spikes(
    rows: Iterable[Row], *, group_key: str = "line", k: float = 3.0, min_ratio: float = 1.5
) -> list[dict[str, Any]]:
    """Periods whose cost stands out from the same group's usual level.

    Robust rule: cost > median + k * 1.4826 * MAD of that group's periods (the MAD scaled to a
    normal sigma, Rousseeuw & Croux 1993) and at least ``min_ratio`` x the median, so a flat,
    cheap series does not produce "spikes" of a few cents. Biggest first.
    """
    series: dict[str, dict[str, float]] = {}
    for r in rows:
        group = str(r.get(group_key) or r.get("group") or "all")
        period = str(r.get("period") or r.get("bucket") or r.get("start"))
        series.setdefault(group, {}).setdefault(period, 0.0)
        series[group][period] += row_cost(r)
    spikes: list[dict[str, Any]] = []
    for group, costs in series.items():
        values = list(costs.values())
        if len(values) < 4:
            continue
        med = statistics.median(values)
        mad = statistics.median(abs(v - med) for v in values) * 1.4826
        threshold = med + k * mad
        for period, cost in costs.items():
            if cost > threshold and (med <= 0 or cost >= min_ratio * med):
                ratio = cost / med if med > 0 else math.inf
                spikes.append({"period": period, group_key: group, "cost": cost, "ratio": ratio})
    spikes.sort(key=lambda s: -s["cost"])
    return spikes


def alarms_before(
    alarms: Iterable[Row],
    *,
    line: str,
    period: str,
    hours: float = 24.0,
    bucket: str = "day",
) -> list[Row]:
    """Alarms on ``line`` opened in the ``hours`` before the period, or during it."""
    start = period_start(period)
    length = {"day": timedelta(days=1), "week": timedelta(days=7), "month": timedelta(days=31)}.get(
        bucket, timedelta(days=1)
    )
    lo, hi = start - timedelta(hours=hours), start + length
    out = []
    for a in alarms:
        key = str(a.get("characteristic", ""))
        if line_of({"key": key, "line": a.get("line")}) != line or not a.get("opened_at"):
            continue
        if lo <= parse_ts(a["opened_at"]) < hi:
            out.append(a)
    out.sort(key=lambda a: str(a.get("opened_at")))
    return out


def plant_rates(rows: Iterable[Row]) -> list[dict[str, Any]]:
    """FPY and PPM per period over all keys: FPY = good / (good + nonconforming), PPM =
    nonconforming / (good + nonconforming) x 10^6 (the service's formulas, summed first so that
    a big line weighs more than a small one)."""
    sums: dict[str, list[float]] = {}
    for r in rows:
        period = str(r.get("period") or r.get("bucket"))
        good, bad = float(r.get("good") or 0), float(r.get("nonconforming") or 0)
        acc = sums.setdefault(period, [0.0, 0.0])
        acc[0] += good
        acc[1] += bad
    out = []
    for period in sorted(sums):
        good, bad = sums[period]
        total = good + bad
        out.append(
            {
                "period": period,
                "good": good,
                "nonconforming": bad,
                "fpy": good / total if total else None,
                "ppm": bad / total * 1e6 if total else None,
            }
        )
    return out


def output_value(
    rate_rows_by_product: Iterable[Row], cost_models: Sequence[Row]
) -> dict[str, float]:
    """Value of what was made per period: units (good + nonconforming) x the product's unit cost
    from the cost model valid that day. The denominator of "cost of poor quality as a share of
    output" (Juran's COPQ ratio); products without a unit cost add nothing."""
    out: dict[str, float] = {}
    for r in rate_rows_by_product:
        period = str(r.get("period") or r.get("bucket"))
        units = float(
            r.get("total") or (float(r.get("good") or 0) + float(r.get("nonconforming") or 0))
        )
        cost = unit_cost(cost_models, str(r.get("key")), str(r.get("bucket") or period))
        if cost is not None and units:
            out[period] = out.get(period, 0.0) + units * cost
    return out


def unit_cost(cost_models: Sequence[Row], product: str, when: str) -> float | None:
    """Unit cost of ``product`` in the model valid at ``when`` (latest ``valid_from`` first)."""
    try:
        day = period_start(when).date().isoformat()
    except ValueError:
        day = str(when)[:10]
    for model in sorted(cost_models, key=lambda m: str(m.get("valid_from")), reverse=True):
        if str(model.get("valid_from")) > day:
            continue
        if model.get("valid_to") and str(model["valid_to"]) <= day:
            continue
        for item in model.get("products") or ():
            if str(item.get("product")) == product:
                return float(item.get("unit_cost") or 0.0)
    return None


def copq_share(cost_rows: Iterable[Row], values: Mapping[str, float]) -> dict[str, float]:
    """Period -> cost of poor quality / value of the output (only where the value is known)."""
    costs: dict[str, float] = {}
    for r in cost_rows:
        period = str(r.get("period") or r.get("bucket"))
        costs[period] = costs.get(period, 0.0) + float(r.get("cost") or 0.0)
    return {p: costs.get(p, 0.0) / v for p, v in values.items() if v > 0}
