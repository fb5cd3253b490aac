"""Quality-cost figures: Pareto of defect codes, scrap/rework cost trend, FPY and PPM.

The Pareto is Juran's: bars sorted descending with the cumulative share on a second axis and an
80 % reference line, so the "vital few" codes stand left of where the curve crosses 80 %.
Cost trends stack scrap and rework (the internal-failure part of the cost of poor quality,
Feigenbaum's PAF model) and can split by line, product or defect code instead.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

from dashboard.figures import theme
from dashboard.figures.control_chart import Figure
from dashboard.i18n import t

Row = Mapping[str, Any]

CODE_KEYS = ("key", "defect_code", "code", "group", "name")
PERIOD_KEYS = ("period", "bucket", "start", "ts")


def _first(row: Row, keys: Sequence[str], default: Any = None) -> Any:
    for key in keys:
        if row.get(key) is not None:
            return row[key]
    return default


def pareto_items(items: Sequence[Row], measure: str = "count") -> list[tuple[str, str, float]]:
    """``(code, label, value)`` sorted by value descending, ties by code (stable output)."""
    out = []
    for row in items:
        code = str(_first(row, CODE_KEYS, "?"))
        label = str(row.get("name") or row.get("label") or row.get("description") or code)
        value = row.get(measure)
        if value is None:
            value = row.get("value", 0)
        out.append((code, label, float(value or 0)))
    out.sort(key=lambda item: (-item[2], item[0]))
    return out


def pareto_figure(
    items: Sequence[Row],
    *,
    measure: str = "count",
    currency: str = "",
    lang: str = "en",
    height: int | None = None,
    max_bars: int = 15,
    other: Mapping[str, Any] | None = None,
) -> Figure:
    """Bars by ``measure`` (``count`` or ``cost``) descending, cumulative % on the right axis.

    Bars left of the 80 % crossing (the "vital few") are drawn strong, the rest pale. ``other``
    (the API's remainder beyond its item limit) is one last bar.
    """
    ranked = pareto_items(items, measure)
    if other and float(other.get("value") or 0) > 0:
        ranked.append(("other", t(lang, "fig.other"), float(other["value"])))
    if len(ranked) > max_bars:
        rest = sum(v for _, _, v in ranked[max_bars - 1 :])
        ranked = [*ranked[: max_bars - 1], ("other", t(lang, "fig.other"), rest)]
    total = sum(v for _, _, v in ranked) or 1.0
    cumulative: list[float] = []
    running = 0.0
    for _, _, value in ranked:
        running += value
        cumulative.append(100.0 * running / total)
    before = [0.0, *cumulative[:-1]]
    codes = [code for code, _, _ in ranked]
    prefix = f"{currency} " if measure == "cost" and currency else ""
    value_name = t(lang, "fig.cost" if measure == "cost" else "fig.count")
    data = [
        {
            "type": "bar",
            "x": codes,
            "y": [v for _, _, v in ranked],
            "marker": {"color": [theme.BAR if b < 80.0 else "#a9bcd0" for b in before]},
            "text": [label for _, label, _ in ranked],
            "textposition": "none",
            "hovertemplate": "<b>%{x}</b> %{text}<br>" + prefix + "%{y:,.0f}<extra></extra>",
            "name": value_name,
            "meta": "bars",
        },
        {
            "type": "scatter",
            "x": codes,
            "y": cumulative,
            "yaxis": "y2",
            "mode": "lines+markers",
            "line": {"color": theme.CUMULATIVE, "width": 2},
            "marker": {"size": 6},
            "name": t(lang, "fig.cumulative"),
            "hovertemplate": "%{y:.1f} %<extra></extra>",
            "meta": "cumulative",
        },
    ]
    layout = theme.base_layout(height=height, bargap=0.25)
    layout.update(
        yaxis={**theme.axis_style(), "title": {"text": f"{value_name} {prefix}".strip()}},
        yaxis2={
            "overlaying": "y",
            "side": "right",
            "range": [0, 105],
            "ticksuffix": " %",
            "showgrid": False,
            "tickmode": "linear",
            "tick0": 0,
            "dtick": 20,
        },
        margin={**layout["margin"], "r": 64},
        xaxis={**theme.axis_style(), "type": "category"},
        shapes=[
            {
                "type": "line",
                "xref": "x domain",
                "x0": 0,
                "x1": 1,
                "yref": "y2",
                "y0": 80,
                "y1": 80,
                "line": {"color": theme.MUTED, "dash": "dot", "width": 1},
                "name": "80%",
            }
        ],
    )
    return {"data": data, "layout": layout}


def bucket_label(value: Any, bucket: str) -> str:
    """Calendar label of a bucket start: ``2026-11-20``, ``2026-W47`` (ISO week), ``2026-11``."""
    from dashboard.figures.timefmt import parse_ts

    text = str(value)
    try:
        ts = parse_ts(value)
    except (TypeError, ValueError):
        return text
    if bucket == "week":
        year, week, _ = ts.isocalendar()
        return f"{year}-W{week:02d}"
    if bucket == "month":
        return ts.strftime("%Y-%m")
    return ts.strftime("%Y-%m-%d")


def _periods(rows: Sequence[Row]) -> list[str]:
    return sorted({str(_first(r, PERIOD_KEYS, "")) for r in rows})


DISPOSITION_COLOURS = {"scrap": theme.SCRAP, "rework": theme.REWORK, "repair": "#c9a227"}


def cost_trend_figure(
    rows: Sequence[Row],
    *,
    currency: str = "",
    lang: str = "en",
    height: int | None = None,
    share: Mapping[str, float] | None = None,
    spikes: Sequence[Row] = (),
) -> Figure:
    """Cost per period stacked by key (disposition, line, product or defect code).

    Rows are the quality-cost API's (``period`` or ``bucket``, ``key``, ``name``, ``cost``).
    ``share`` (period -> COPQ as a fraction of the output's value) draws a line on the right
    axis; ``spikes`` (from :func:`dashboard.analysis.cost_spikes`) mark periods above their bars.
    """
    periods = _periods(rows)
    totals: dict[str, float] = dict.fromkeys(periods, 0.0)
    groups: OrderedDict[str, dict[str, float]] = OrderedDict()
    names: dict[str, str] = {}
    for r in rows:
        period = str(_first(r, PERIOD_KEYS, ""))
        key = str(r.get("key") if r.get("key") is not None else "—")
        cost = float(r.get("cost") or 0.0)
        names.setdefault(key, str(r.get("name") or key))
        groups.setdefault(key, dict.fromkeys(periods, 0.0))[period] += cost
        totals[period] += cost
    ranked = sorted(groups.items(), key=lambda kv: -sum(kv[1].values()))
    data: list[dict[str, Any]] = []
    money = f"{currency} " if currency else ""
    for k, (key, series) in enumerate(ranked):
        colour = DISPOSITION_COLOURS.get(key, theme.PALETTE[k % len(theme.PALETTE)])
        data.append(
            {
                "type": "bar",
                "x": periods,
                "y": [series[p] for p in periods],
                "name": names[key],
                "marker": {"color": colour},
                "hovertemplate": f"<b>{names[key]}</b> %{{x}}<br>{money}%{{y:,.0f}}<extra></extra>",
                "meta": f"group:{key}",
            }
        )
    layout = theme.base_layout(height=height, barmode="stack", bargap=0.2)
    layout["yaxis"] = {
        **theme.axis_style(),
        "title": {"text": f"{t(lang, 'fig.cost')} {currency}".strip()},
    }
    layout["xaxis"] = {**theme.axis_style(), "type": "category", "nticks": 16, "tickangle": 0}
    if share:
        xs = [p for p in periods if share.get(p) is not None]
        data.append(
            {
                "type": "scatter",
                "x": xs,
                "y": [100.0 * float(share[p]) for p in xs],
                "yaxis": "y2",
                "mode": "lines+markers",
                "line": {"color": theme.INK, "width": 2},
                "name": t(lang, "fig.copq_share"),
                "hovertemplate": "%{y:.2f} %<extra></extra>",
                "meta": "copq-share",
            }
        )
        layout["yaxis2"] = {
            "overlaying": "y",
            "side": "right",
            "ticksuffix": " %",
            "showgrid": False,
            "rangemode": "tozero",
            "tickformat": ".2f",
        }
        layout["margin"] = {**layout["margin"], "r": 64}
    if spikes:
        xs = [str(sp["period"]) for sp in spikes if str(sp.get("period")) in totals]
        data.append(
            {
                "type": "scatter",
                "x": xs,
                "y": [totals[x] * 1.06 for x in xs],
                "mode": "markers",
                "marker": {"symbol": "triangle-down", "size": 13, "color": theme.BEYOND},
                "name": t(lang, "fig.spike"),
                "hovertemplate": "%{x}<extra></extra>",
                "meta": "spikes",
            }
        )
    return {"data": data, "layout": layout}


def _as_percent(value: float) -> float:
    return 100.0 * value if value <= 1.0 else value


def yield_figure(rows: Sequence[Row], *, lang: str = "en", height: int | None = None) -> Figure:
    """First-pass yield (%, left) and PPM defective (right) per period.

    FPY arrives as a fraction (0.973) or a percentage (97.3); both plot as a percentage.
    Rows are one per period (see :func:`dashboard.analysis.plant_rates` to combine keys).
    """
    ordered = sorted(rows, key=lambda r: str(_first(r, PERIOD_KEYS, "")))
    periods = [str(_first(r, PERIOD_KEYS, "")) for r in ordered]
    fpy = [None if r.get("fpy") is None else _as_percent(float(r["fpy"])) for r in ordered]
    ppm = [None if r.get("ppm") is None else float(r["ppm"]) for r in ordered]
    data = [
        {
            "type": "scatter",
            "x": periods,
            "y": fpy,
            "mode": "lines+markers",
            "line": {"color": theme.FPY, "width": 2.2},
            "name": t(lang, "fig.fpy"),
            "hovertemplate": "%{x}<br>FPY %{y:.2f} %<extra></extra>",
            "meta": "fpy",
        },
        {
            "type": "scatter",
            "x": periods,
            "y": ppm,
            "yaxis": "y2",
            "mode": "lines+markers",
            "line": {"color": theme.PPM, "width": 2, "dash": "dot"},
            "name": t(lang, "fig.ppm"),
            "hovertemplate": "%{x}<br>%{y:,.0f} PPM<extra></extra>",
            "meta": "ppm",
        },
    ]
    layout = theme.base_layout(height=height, margin={"l": 64, "r": 72, "t": 36, "b": 40})
    layout.update(
        yaxis={**theme.axis_style(), "title": {"text": t(lang, "fig.fpy")}, "ticksuffix": " %"},
        yaxis2={
            "overlaying": "y",
            "side": "right",
            "title": {"text": "PPM"},
            "showgrid": False,
            "rangemode": "tozero",
        },
        xaxis={**theme.axis_style(), "type": "category", "nticks": 8, "tickangle": 0},
    )
    return {"data": data, "layout": layout}
