"""Small Dash building blocks shared by the pages: KPI tiles, status lights, badges, tables,
messages and the capability panel. Pure functions of their arguments (components in, nothing
fetched), so they are tested like the figure builders.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dash import dcc, html

from dashboard.api import ApiError, AuthError, ForbiddenError, NotFoundError, UnavailableError
from dashboard.figures.control_chart import fmt
from dashboard.figures.theme import cpk_band
from dashboard.i18n import t

GRAPH_CONFIG: dict[str, Any] = {
    "displaylogo": False,
    "responsive": True,
    "modeBarButtonsToRemove": ["lasso2d", "autoScale2d", "toggleSpikelines"],
    "toImageButtonOptions": {"format": "png", "width": 1920, "height": 1080, "scale": 1},
}


def kpi(label: str, value: str, *, tone: str = "neutral", id_: str | None = None) -> html.Div:
    attrs: dict[str, Any] = {"id": id_} if id_ else {}
    return html.Div(
        [html.Div(label, className="kpi-label"), html.Div(value, className="kpi-value")],
        className=f"kpi kpi-{tone}",
        **attrs,
    )


def status_light(status: str, lang: str) -> html.Span:
    """Round light + word: ``ok`` green, ``alarm`` red (pulsing), ``no_limits``/``no_data`` grey."""
    return html.Span(
        [html.Span(className=f"light light-{status}"), html.Span(t(lang, f"status.{status}"))],
        className=f"status status-{status}",
        title=t(lang, f"status.{status}"),
    )


def cpk_badge(cpk: float | None) -> html.Span:
    band = cpk_band(cpk)
    return html.Span(fmt(cpk, 3) if band != "none" else "—", className=f"badge cpk cpk-{band}")


def badge(text: str, tone: str = "neutral", **attrs: Any) -> html.Span:
    return html.Span(text, className=f"badge badge-{tone}", **attrs)


def table(
    header: Sequence[Any],
    rows: Sequence[Sequence[Any]],
    *,
    class_name: str = "",
    row_classes: Sequence[str] | None = None,
    id_: str | None = None,
) -> html.Table:
    attrs: dict[str, Any] = {"id": id_} if id_ else {}
    body = [
        html.Tr(
            [html.Td(cell) for cell in row], className=(row_classes[k] if row_classes else None)
        )
        for k, row in enumerate(rows)
    ]
    return html.Table(
        [html.Thead(html.Tr([html.Th(h) for h in header])), html.Tbody(body)],
        className=f"table {class_name}".strip(),
        **attrs,
    )


def message(text: str, tone: str = "info", **attrs: Any) -> html.Div:
    return html.Div(text, className=f"msg msg-{tone}", role="status", **attrs)


def error_message(exc: Exception, lang: str) -> html.Div:
    """One readable line per failure kind; the details the service gave are kept."""
    if isinstance(exc, AuthError):
        return message(t(lang, "error.auth"), "error")
    if isinstance(exc, ForbiddenError):
        return message(t(lang, "error.forbidden", detail=exc.detail), "error")
    if isinstance(exc, NotFoundError):
        return message(t(lang, "error.not_found", detail=exc.detail), "warn")
    if isinstance(exc, UnavailableError):
        return message(t(lang, "error.unavailable", detail=exc.detail), "error")
    if isinstance(exc, ApiError):
        return message(t(lang, "error.generic", detail=exc.detail), "error")
    return message(t(lang, "error.generic", detail=str(exc)), "error")


def card(
    title: Any, body: Any, *, class_name: str = "", extra: Any = None, **attrs: Any
) -> html.Section:
    head = [html.H3(title, className="card-title")]
    if extra is not None:
        head.append(html.Div(extra, className="card-extra"))
    return html.Section(
        [html.Div(head, className="card-head"), html.Div(body, className="card-body")],
        className=f"card {class_name}".strip(),
        **attrs,
    )


def graph(id_: Any, figure: Any = None, *, class_name: str = "") -> html.Div:
    """A graph filling a box whose CSS class sets the height, so one figure adapts to a
    1920x1080 shop-floor screen and to a laptop (a responsive dcc.Graph takes its parent's
    height, hence the box)."""
    empty = {"data": [], "layout": {"xaxis": {"visible": False}, "yaxis": {"visible": False}}}
    return html.Div(
        dcc.Graph(
            id=id_,
            figure=figure or empty,
            config=GRAPH_CONFIG,
            responsive=True,
            style={"height": "100%"},
        ),
        className=f"graph-box {class_name}".strip(),
    )


def _ci(cap: Mapping[str, Any], key: str) -> str:
    ci = (cap.get("ci95") or {}).get(key)
    if not ci or len(ci) != 2 or ci[0] is None:
        return ""
    return f"[{fmt(ci[0], 3)}, {fmt(ci[1], 3)}]"


def capability_panel(capability: Mapping[str, Any] | None, lang: str) -> html.Div:
    """Cp/Cpk/Pp/Ppk (+Cpm) with 95 % intervals, the sigmas, expected PPM and normality.

    Colours use the Cpk bands on every index so that a glance reads the panel like the overview.
    """
    if not capability or all(capability.get(k) is None for k in ("cp", "cpk", "pp", "ppk")):
        return html.Div(message(t(lang, "cap.none"), "info"), className="capability")
    rows = []
    for key, label in (("cp", "Cp"), ("cpk", "Cpk"), ("pp", "Pp"), ("ppk", "Ppk"), ("cpm", "Cpm")):
        value = capability.get(key)
        if value is None:
            continue
        rows.append(
            html.Tr(
                [
                    html.Td(label, className="cap-name"),
                    html.Td(html.Span(fmt(value, 3), className=f"badge cpk cpk-{cpk_band(value)}")),
                    html.Td(_ci(capability, key), className="cap-ci"),
                ],
                id=f"cap-{key}",
            )
        )
    indices = html.Table(
        [
            html.Thead(
                html.Tr(
                    [
                        html.Th(t(lang, "cap.index")),
                        html.Th(t(lang, "cap.value")),
                        html.Th(t(lang, "cap.ci")),
                    ]
                )
            ),
            html.Tbody(rows),
        ],
        className="table cap-table",
    )
    facts = [
        (t(lang, "cap.n"), str(capability.get("n", ""))),
        (t(lang, "cap.mean"), fmt(capability.get("mean"))),
        (t(lang, "cap.sigma_within"), fmt(capability.get("sigma_within"), 4)),
        (t(lang, "cap.sigma_overall"), fmt(capability.get("sigma_overall"), 4)),
    ]
    ppm = capability.get("ppm")
    expected = observed = None
    if isinstance(ppm, Mapping):
        expected = ppm.get("expected_total", ppm.get("total"))
        observed = ppm.get("observed_total")
    elif ppm is not None:
        expected = ppm
    if expected is not None:
        facts.append((t(lang, "cap.ppm"), f"{float(expected):,.1f}"))
    if observed is not None:
        facts.append((t(lang, "cap.ppm_observed"), f"{float(observed):,.0f}"))
    dl = html.Dl(
        [item for label, value in facts for item in (html.Dt(label), html.Dd(value))],
        className="cap-facts",
    )
    parts: list[Any] = [indices, dl]
    normality = capability.get("normality")
    if isinstance(normality, Mapping) and normality:
        p = normality.get("p_value", normality.get("p"))
        test = str(normality.get("test", "Anderson-Darling"))
        is_normal = normality.get("normal")
        if is_normal is None and p is not None:
            is_normal = float(p) >= 0.05
        key = "cap.normal_yes" if is_normal else "cap.normal_no"
        parts.append(
            html.Div(
                [
                    html.Strong(t(lang, "cap.normality") + ": "),
                    t(lang, key, test=test, p=fmt(p, 3)),
                ],
                className=f"cap-normality {'ok' if is_normal else 'warn'}",
                id="cap-normality",
            )
        )
    return html.Div(parts, className="capability")
