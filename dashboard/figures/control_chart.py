"""The control chart and its dispersion chart, stacked on one time axis.

Builders return plain Plotly figure dicts, not ``go.Figure`` objects: graph_objects validates
every property on construction, which costs about half a second for one chart, while a dict is
ready for JSON at once. The tests wrap each dict in ``go.Figure`` and so still validate it.

Input is the chart JSON of the service (the CLI chart contract plus, per point, ``ts``, ``lot``,
``limit_version`` and ``alarm_id``). The figure shows what an SPC reader looks for:

* center line and control limits, drawn as steps so that per-point limits (varying subgroup
  size, a new limits version) are exact;
* the A/B/C zones (1σ and 2σ bands) the run rules refer to (Montgomery, *Introduction to SQC*,
  8th ed., §5.3.6), where σ is each point's own sigma of the statistic, ``(ucl - center) / L``;
* points coloured by what flagged them: red beyond the limits, amber a run rule; the hover names
  every rule that fired, in words, with the lot and the alarm;
* specification limits (individual values only make sense against them, but engineers ask to
  see where the specs sit), and a dotted line where a new limits version took over.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, tzinfo
from typing import Any

from dashboard.figures import theme
from dashboard.figures.timefmt import short, to_plotly
from dashboard.i18n import rule_text, t

Point = Mapping[str, Any]

STAT_LABEL = {
    "imr": ("X", "MR"),
    "xbar-r": ("X̄", "R"),
    "xbar-s": ("X̄", "S"),
    "p": ("p", None),
    "np": ("np", None),
    "c": ("c", None),
    "u": ("u", None),
    "ewma": ("EWMA", None),
    "cusum": ("CUSUM", None),
}
ZONED = frozenset({"imr", "xbar-r", "xbar-s", "p", "np", "c", "u"})
SPEC_CHARTS = frozenset({"imr", "xbar-r", "xbar-s", "ewma"})
GL_THRESHOLD = 5000


def fmt(value: Any, digits: int = 6) -> str:
    """A number with ``digits`` significant digits; blank for missing."""
    if value is None:
        return ""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(x):
        return ""
    return f"{x:.{digits}g}"


def _num(value: Any) -> float:
    return float("nan") if value is None else float(value)


def x_values(points: Sequence[Point], tz: tzinfo = UTC) -> list[Any]:
    """Display times when every point has ``ts``, else the point indices."""
    if points and all(p.get("ts") for p in points):
        return [to_plotly(p["ts"], tz) for p in points]
    return [p.get("i", k) for k, p in enumerate(points)]


def steps(xs: Sequence[Any], ys: Sequence[float]) -> tuple[list[Any], list[float]]:
    """Collapse runs of equal ``ys`` for a ``line_shape='hv'`` trace: a constant limit becomes
    two points whatever the series length, varying limits stay exact."""
    if not xs:
        return [], []
    out_x: list[Any] = [xs[0]]
    out_y: list[float] = [ys[0]]
    for x, y in zip(xs[1:], ys[1:], strict=True):
        last = out_y[-1]
        same = (y == last) or (math.isnan(y) and math.isnan(last))
        if not same:
            out_x.append(x)
            out_y.append(y)
    if out_x[-1] != xs[-1]:
        out_x.append(xs[-1])
        out_y.append(out_y[-1])
    return out_x, out_y


def band_steps(
    xs: Sequence[Any], columns: Sequence[Sequence[float]]
) -> tuple[list[Any], list[list[float]]]:
    """Like :func:`steps` for several aligned series at once (all zone edges share x)."""
    if not xs:
        return [], [[] for _ in columns]
    keep = [0]
    for k in range(1, len(xs)):
        if any(
            not (c[k] == c[k - 1] or (math.isnan(c[k]) and math.isnan(c[k - 1]))) for c in columns
        ):
            keep.append(k)
    if keep[-1] != len(xs) - 1:
        keep.append(len(xs) - 1)
    return [xs[k] for k in keep], [[c[k] for k in keep] for c in columns]


def classify(violations: Sequence[str]) -> str:
    """``"beyond"`` when a limit rule fired, ``"rule"`` for run rules only, else ``"ok"``."""
    if not violations:
        return "ok"
    return "beyond" if any(v in theme.BEYOND_RULES for v in violations) else "rule"


# Above this many flagged points, hovers name the rules without their sentence: thousands of
# repeated sentences would make the figure megabytes heavier for nothing new.
DESCRIBE_UP_TO = 300


def hover_text(
    point: Point,
    label: str,
    lang: str,
    tz: tzinfo,
    *,
    extra: Sequence[str] = (),
    describe: bool = True,
) -> str:
    """The hover of one point: statistic, time, subgroup (its stable number when the service
    gives one), lot, limits version, every rule that fired (in words) and the alarm."""
    lines = [f"<b>{label} = {fmt(point.get('stat'))}</b>"]
    when = short(point.get("ts"), tz) if point.get("ts") else ""
    number = point.get("point_no") if point.get("point_no") is not None else point.get("i", "")
    sub = f"{t(lang, 'fig.subgroup')} {number}"
    if point.get("n") not in (None, 1):
        sub += f" · n = {point.get('n')}"
    lines.append(f"{when}  {sub}".strip())
    if point.get("lot"):
        lines.append(f"{t(lang, 'fig.lot')}: {point['lot']}")
    if point.get("limit_version") is not None:
        lines.append(f"{t(lang, 'fig.limits_version')} v{point['limit_version']}")
    lines.extend(extra)
    for rule in point.get("violations") or ():
        colour = theme.BEYOND if rule in theme.BEYOND_RULES else theme.RUN_RULE
        words = rule_text(rule, lang) if describe else rule
        lines.append(f"<span style='color:{colour}'>⚠ {words}</span>")
    if point.get("alarm_id") is not None:
        lines.append(f"{t(lang, 'fig.alarm')} #{point['alarm_id']}")
    return "<br>".join(lines)


def version_changes(points: Sequence[Point]) -> list[tuple[int, Any]]:
    """Positions where ``limit_version`` differs from the previous point's (both known)."""
    out: list[tuple[int, Any]] = []
    previous = None
    for k, p in enumerate(points):
        version = p.get("limit_version")
        if version is not None and previous is not None and version != previous:
            out.append((k, version))
        if version is not None:
            previous = version
    return out


Figure = dict[str, Any]


def _trace_type(n: int) -> str:
    return "scattergl" if n > GL_THRESHOLD else "scatter"


def _axes(row: int) -> dict[str, str]:
    return {"xaxis": "x" if row == 1 else "x2", "yaxis": "y" if row == 1 else "y2"}


SYMMETRIC = frozenset({"imr", "xbar-r", "xbar-s", "ewma"})


def _versions(chart: Mapping[str, Any]) -> dict[Any, Mapping[str, Any]]:
    """Limit versions the chart spans (the service lists them under ``limits``)."""
    limits = chart.get("limits")
    if isinstance(limits, list):
        return {v.get("version"): v for v in limits if isinstance(v, Mapping)}
    return {}


def main_centers(chart: Mapping[str, Any], points: Sequence[Point]) -> list[float]:
    """Center line per point: its own, its limit version's, the midpoint of its symmetric
    limits (points charted before any approval), else the chart's."""
    versions = _versions(chart)
    kind = str(chart.get("chart"))
    out = []
    for p in points:
        if p.get("center") is not None:
            out.append(float(p["center"]))
        elif p.get("limit_version") in versions:
            out.append(_num(versions[p["limit_version"]].get("center")))
        elif kind in SYMMETRIC and p.get("lcl") is not None and p.get("ucl") is not None:
            out.append((float(p["lcl"]) + float(p["ucl"])) / 2)
        else:
            out.append(_num(chart.get("center")))
    return out


def dispersion_centers(chart: Mapping[str, Any], points: Sequence[Point]) -> list[float]:
    """Center of R, S or MR per point. An older limits version's center follows from its sigma:
    R̄ = d₂(n)·σ, S̄ = c₄(n)·σ, MR̄ = d₂(2)·σ (Montgomery §6.2-6.4), exact for any n."""
    from spc.constants import c4, d2

    disp = chart.get("dispersion") or {}
    versions = _versions(chart)
    current = chart.get("limit_version")
    kind = str(disp.get("chart", "")).lower()
    out = []
    for p in points:
        version = p.get("limit_version")
        if p.get("center") is not None:
            out.append(float(p["center"]))
        elif version is not None and version != current and version in versions:
            sigma = float(versions[version]["sigma"])
            n = int(p.get("n") or 2)
            factor = c4(n) if kind == "s" else d2(2 if kind == "mr" else n)
            out.append(factor * sigma)
        else:
            out.append(_num(disp.get("center")))
    return out


def _limit_traces(
    row: int,
    xs: list[Any],
    points: Sequence[Point],
    centers: Sequence[float],
    lang: str,
    *,
    zones: bool,
    nsigmas: float,
    legend: bool,
) -> list[dict[str, Any]]:
    traces: list[dict[str, Any]] = []
    ucl = [_num(p.get("ucl")) for p in points]
    lcl = [_num(p.get("lcl")) for p in points]
    if zones:
        sig = [
            (u - c) / nsigmas if not math.isnan(u) else float("nan")
            for u, c in zip(ucl, centers, strict=True)
        ]
        edges = []
        for k in (3, 2, 1, -1, -2, -3):
            col = []
            for c, s, lo in zip(centers, sig, lcl, strict=True):
                v = c + k * s
                if k < 0 and not math.isnan(lo):
                    v = max(v, lo)  # attribute charts clip the LCL at 0: so do the zones
                col.append(v)
            edges.append(col)
        bx, by = band_steps(xs, edges)
        fills = [None, theme.ZONE_A, theme.ZONE_B, theme.ZONE_C, theme.ZONE_B, theme.ZONE_A]
        for k, (edge, fill) in enumerate(zip(by, fills, strict=True)):
            trace: dict[str, Any] = {
                "type": "scatter",
                "x": bx,
                "y": edge,
                "mode": "lines",
                "line": {
                    "width": 0 if k in (0, 5) else 0.6,
                    "color": "rgba(120,130,140,0.35)",
                    "shape": "hv",
                    "dash": "dot",
                },
                "hoverinfo": "skip",
                "showlegend": legend and k == 1,
                "legendgroup": "zones",
                "name": t(lang, "fig.zone"),
                "meta": "zone",
                **_axes(row),
            }
            if fill:
                trace.update(fill="tonexty", fillcolor=fill)
            traces.append(trace)
    cx, cy = steps(xs, centers)
    traces.append(
        {
            "type": "scatter",
            "x": cx,
            "y": cy,
            "mode": "lines",
            "line": {"color": theme.CENTER, "width": 1.6, "shape": "hv"},
            "name": t(lang, "fig.center"),
            "legendgroup": "center",
            "showlegend": legend,
            "hoverinfo": "skip",
            "meta": "center",
            **_axes(row),
        }
    )
    for k, (series, tag) in enumerate(((ucl, "ucl"), (lcl, "lcl"))):
        if all(math.isnan(v) for v in series):
            continue
        lx, ly = steps(xs, series)
        traces.append(
            {
                "type": "scatter",
                "x": lx,
                "y": [None if math.isnan(v) else v for v in ly],
                "mode": "lines",
                "line": {"color": theme.LIMIT, "width": 1.4, "dash": "dash", "shape": "hv"},
                "name": t(lang, "fig.limits"),
                "legendgroup": "limits",
                "showlegend": legend and k == 0,
                "hoverinfo": "skip",
                "meta": tag,
                **_axes(row),
            }
        )
    return traces


MARKER_STYLE = {
    "ok": (theme.POINT, 5, "circle", "fig.in_control"),
    "rule": (theme.RUN_RULE, 9, "circle", "fig.run_rule"),
    "beyond": (theme.BEYOND, 10, "diamond", "fig.beyond"),
}


# Above this many points the in-control points are not drawn as markers: the line shows them,
# carries their hover, and the browser draws half as much (flagged points keep their markers).
MARKERS_UP_TO = 600


def _point_traces(
    row: int,
    xs: list[Any],
    points: Sequence[Point],
    label: str,
    lang: str,
    tz: tzinfo,
    *,
    legend: bool,
) -> list[dict[str, Any]]:
    kind = _trace_type(len(points))
    ys = [p.get("stat") for p in points]
    groups: dict[str, list[int]] = {"ok": [], "rule": [], "beyond": []}
    for k, p in enumerate(points):
        groups[classify(p.get("violations") or ())].append(k)
    describe = len(groups["rule"]) + len(groups["beyond"]) <= DESCRIBE_UP_TO
    dense = len(points) > MARKERS_UP_TO
    series: dict[str, Any] = {
        "type": kind,
        "x": xs,
        "y": ys,
        "mode": "lines",
        "line": {"color": theme.LINE, "width": 1.1},
        "hoverinfo": "skip",
        "showlegend": False,
        "meta": "series",
        **_axes(row),
    }
    if dense:
        series.update(
            text=[hover_text(p, label, lang, tz, describe=False) for p in points],
            hovertemplate="%{text}<extra></extra>",
        )
        series.pop("hoverinfo")
    traces: list[dict[str, Any]] = [series]
    for group, idx in groups.items():
        if group == "ok" and (dense or not idx):
            continue
        colour, size, symbol, name_key = MARKER_STYLE[group]
        traces.append(
            {
                "type": kind,
                "x": [xs[k] for k in idx],
                "y": [ys[k] for k in idx],
                "mode": "markers",
                "marker": {
                    "color": colour,
                    "size": size,
                    "symbol": symbol,
                    "line": {"width": 1, "color": "white"} if group != "ok" else {"width": 0},
                },
                "text": [hover_text(points[k], label, lang, tz, describe=describe) for k in idx],
                "hovertemplate": "%{text}<extra></extra>",
                "name": t(lang, name_key),
                "legendgroup": group,
                "showlegend": legend and (group == "ok" or bool(idx)),
                "meta": group,
                "customdata": [points[k].get("i") for k in idx],
                **_axes(row),
            }
        )
    return traces


def hline(
    y: float, text: str, colour: str, dash: str, *, row: int = 1
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A horizontal line across one subplot, with its label (what ``add_hline`` makes)."""
    xref, yref = ("x domain", "y") if row == 1 else ("x2 domain", "y2")
    shape = {
        "type": "line",
        "xref": xref,
        "x0": 0,
        "x1": 1,
        "yref": yref,
        "y0": y,
        "y1": y,
        "line": {"color": colour, "width": 1.3, "dash": dash},
        "name": text.split(" ")[0].lower(),
    }
    note = {
        "xref": xref,
        "x": 0,
        "xanchor": "left",
        "yref": yref,
        "y": y,
        "yanchor": "bottom",
        "text": text,
        "showarrow": False,
        "font": {"color": colour, "size": 11},
    }
    return shape, note


def control_chart_figure(
    chart: Mapping[str, Any],
    *,
    characteristic: Mapping[str, Any] | None = None,
    lang: str = "en",
    tz: tzinfo = UTC,
    height: int | None = None,
    zones: bool = True,
    show_spec: bool = True,
    phase1_window: tuple[Any, Any] | None = None,
    uirevision: Any = None,
    dragmode: str = "zoom",
) -> Figure:
    """Chart JSON -> stacked control (top) and dispersion (bottom) chart. Pure: no I/O."""
    kind = str(chart.get("chart", "imr"))
    characteristic = characteristic or {}
    points: list[Point] = [
        p for p in chart.get("points") or [] if p.get("stat") is not None or kind == "cusum"
    ]
    disp = chart.get("dispersion") or None
    disp_points: list[Point] = (
        [p for p in (disp.get("points") or []) if p.get("stat") is not None] if disp else []
    )
    has_disp = bool(disp_points)
    main_label, disp_label = STAT_LABEL.get(kind, (kind, None))
    if disp:
        disp_label = str(disp.get("chart") or disp_label or "").upper() or disp_label
    limits = chart.get("limits")
    nsigmas = float(
        chart.get("nsigmas")
        or (limits.get("nsigmas") if isinstance(limits, Mapping) else None)
        or 3.0
    )

    xs = x_values(points, tz)
    data: list[dict[str, Any]] = []
    shapes: list[dict[str, Any]] = []
    notes: list[dict[str, Any]] = []
    if kind == "cusum":
        data += _cusum_traces(xs, points, lang, tz)
    else:
        data += _limit_traces(
            1,
            xs,
            points,
            main_centers(chart, points),
            lang,
            zones=zones and kind in ZONED,
            nsigmas=nsigmas,
            legend=True,
        )
        data += _point_traces(1, xs, points, main_label, lang, tz, legend=True)
    if has_disp:
        dxs = x_values(disp_points, tz)
        data += _limit_traces(
            2,
            dxs,
            disp_points,
            dispersion_centers(chart, disp_points),
            lang,
            zones=False,
            nsigmas=nsigmas,
            legend=False,
        )
        data += _point_traces(2, dxs, disp_points, disp_label or "", lang, tz, legend=False)

    if show_spec and kind in SPEC_CHARTS:
        for key, colour, dash in (
            ("usl", theme.SPEC, "dashdot"),
            ("lsl", theme.SPEC, "dashdot"),
            ("target", theme.TARGET, "dot"),
        ):
            value = characteristic.get(key)
            if value is not None:
                shape, note = hline(float(value), f"{key.upper()} {fmt(value)}", colour, dash)
                shapes.append(shape)
                notes.append(note)

    for k, version in version_changes(points):
        shapes.append(
            {
                "type": "line",
                "x0": xs[k],
                "x1": xs[k],
                "xref": "x",
                "yref": "paper",
                "y0": 0,
                "y1": 1,
                "line": {"color": theme.VERSION, "width": 1.2, "dash": "dot"},
                "name": f"limits-v{version}",
            }
        )
        notes.append(
            {
                "x": xs[k],
                "xref": "x",
                "y": 1.0,
                "yref": "paper",
                "yanchor": "bottom",
                "text": f"{t(lang, 'fig.limits_version')} v{version}",
                "showarrow": False,
                "font": {"size": 11, "color": theme.VERSION},
                "bgcolor": "rgba(255,255,255,0.85)",
                "name": f"limits-v{version}",
            }
        )
    if phase1_window and all(phase1_window):
        shapes.append(
            {
                "type": "rect",
                "xref": "x",
                "x0": phase1_window[0],
                "x1": phase1_window[1],
                "yref": "paper",
                "y0": 0,
                "y1": 1,
                "fillcolor": "rgba(31, 78, 121, 0.12)",
                "line": {"width": 0},
                "layer": "below",
                "name": "phase1",
            }
        )
        notes.append(
            {
                "x": phase1_window[0],
                "xref": "x",
                "xanchor": "left",
                "y": 1.0,
                "yref": "paper",
                "yanchor": "top",
                "text": t(lang, "fig.phase1"),
                "showarrow": False,
                "font": {"size": 11, "color": theme.POINT},
                "name": "phase1",
            }
        )

    unit = characteristic.get("unit")
    layout = theme.base_layout(height=height, hovermode="closest", dragmode=dragmode)
    layout["margin"] = {**layout["margin"], "b": 60}  # room for the two-line date ticks
    layout["uirevision"] = uirevision if uirevision is not None else chart.get("key", "chart")
    layout["shapes"] = shapes
    layout["annotations"] = notes
    main_title = f"{main_label} ({unit})" if unit and kind in SPEC_CHARTS else main_label
    if has_disp:
        layout["xaxis"] = {
            **theme.axis_style(),
            "anchor": "y",
            "domain": [0, 1],
            "showticklabels": False,
        }
        layout["xaxis2"] = {**theme.axis_style(), "anchor": "y2", "domain": [0, 1], "matches": "x"}
        layout["yaxis"] = {
            **theme.axis_style(),
            "anchor": "x",
            "domain": [0.33, 1.0],
            "title": {"text": main_title},
        }
        layout["yaxis2"] = {
            **theme.axis_style(),
            "anchor": "x2",
            "domain": [0.0, 0.28],
            "title": {"text": disp_label},
        }
    else:
        layout["xaxis"] = {**theme.axis_style(), "anchor": "y", "domain": [0, 1]}
        layout["yaxis"] = {
            **theme.axis_style(),
            "anchor": "x",
            "domain": [0, 1],
            "title": {"text": main_title},
        }
    return {"data": data, "layout": layout}


def _cusum_traces(
    xs: list[Any], points: Sequence[Point], lang: str, tz: tzinfo
) -> list[dict[str, Any]]:
    """CUSUM: C⁺ and C⁻ in σ units against ±h (Montgomery §9.1, tabular CUSUM)."""
    traces: list[dict[str, Any]] = []
    for series, tag in (
        ([_num(p.get("ucl")) for p in points], "ucl"),
        ([_num(p.get("lcl")) for p in points], "lcl"),
    ):
        lx, ly = steps(xs, series)
        traces.append(
            {
                "type": "scatter",
                "x": lx,
                "y": ly,
                "mode": "lines",
                "meta": tag,
                "hoverinfo": "skip",
                "line": {"color": theme.LIMIT, "dash": "dash", "shape": "hv"},
                "name": t(lang, "fig.limits"),
                "showlegend": tag == "ucl",
            }
        )
    traces.append(
        {
            "type": "scatter",
            "x": [xs[0], xs[-1]] if xs else [],
            "y": [0, 0],
            "mode": "lines",
            "line": {"color": theme.CENTER},
            "name": t(lang, "fig.center"),
            "hoverinfo": "skip",
            "meta": "center",
        }
    )
    for key, name in (("upper", "C⁺"), ("lower", "C⁻")):
        traces.append(
            {
                "type": "scatter",
                "x": xs,
                "y": [p.get(key) for p in points],
                "mode": "lines+markers",
                "marker": {"size": 4, "color": theme.POINT},
                "line": {"color": theme.LINE, "width": 1.1},
                "name": name,
                "text": [hover_text(p, name, lang, tz) for p in points],
                "hovertemplate": "%{text}<extra></extra>",
                "meta": f"cusum-{key}",
            }
        )
    flagged = [k for k, p in enumerate(points) if p.get("violations")]
    if flagged:
        ys = []
        for k in flagged:
            up, lo = _num(points[k].get("upper")), _num(points[k].get("lower"))
            ys.append(up if abs(up) >= abs(lo) else lo)
        traces.append(
            {
                "type": "scatter",
                "x": [xs[k] for k in flagged],
                "y": ys,
                "mode": "markers",
                "marker": {"color": theme.BEYOND, "size": 10, "symbol": "diamond"},
                "name": t(lang, "fig.beyond"),
                "text": [hover_text(points[k], "CUSUM", lang, tz) for k in flagged],
                "hovertemplate": "%{text}<extra></extra>",
                "meta": "beyond",
            }
        )
    return traces
