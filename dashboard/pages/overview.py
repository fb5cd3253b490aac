"""Plant overview: a row per characteristic, grouped by line and station.

The row answers the shop-floor questions in reading order: is it in control (light), where is
it now (last value), where is it going (sparkline), can it make good parts (Cpk band), how often
did it go out of control today, and is someone needed (open alarms). Refreshes every few seconds.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dash import Input, Output, State, dcc, html, no_update

from dashboard import analysis
from dashboard.api import ApiError
from dashboard.components import cpk_badge, error_message, kpi, message, status_light
from dashboard.context import AppContext, Session
from dashboard.data import overview_rows
from dashboard.figures.control_chart import fmt
from dashboard.figures.sparkline import sparkline_svg, svg_data_uri
from dashboard.figures.timefmt import short
from dashboard.i18n import t

MINIMUM_ACTION = "view"


def layout(
    ctx: AppContext, session: Session, lang: str, args: list[str], query: dict[str, str]
) -> Any:
    return html.Div(
        [
            html.Div(
                [
                    html.H1(t(lang, "overview.title")),
                    html.Div(
                        [
                            html.Label(t(lang, "overview.filter_line"), htmlFor="ov-lines"),
                            dcc.Dropdown(
                                id="ov-lines",
                                multi=True,
                                placeholder=t(lang, "common.all"),
                                className="dropdown dropdown-wide",
                            ),
                            html.Span(id="ov-updated", className="muted small"),
                        ],
                        className="toolbar",
                    ),
                ],
                className="page-head",
            ),
            html.Div(id="ov-kpis", className="kpis"),
            html.Div(message(t(lang, "common.loading")), id="ov-body", className="overview"),
            dcc.Interval(id="ov-tick", interval=ctx.settings.overview_refresh_ms, n_intervals=0),
        ]
    )


def render_rows(
    ctx: AppContext, rows: list[dict[str, Any]], lang: str, lines: list[str] | None
) -> list[Any]:
    """Sections per line, station sub-headers, one table row per characteristic."""
    if not rows:
        return [message(t(lang, "overview.empty"), "info")]
    grouped = analysis.group_characteristics(rows, lines)
    header = html.Thead(
        html.Tr(
            [
                html.Th(t(lang, "overview.col.status"), className="col-status"),
                html.Th(t(lang, "overview.col.characteristic")),
                html.Th(t(lang, "overview.col.last"), className="num"),
                html.Th(t(lang, "overview.col.trend"), className="col-trend"),
                html.Th(t(lang, "overview.col.cpk"), className="num"),
                html.Th(t(lang, "overview.col.ooc"), className="num"),
                html.Th(t(lang, "overview.col.alarms"), className="num"),
            ]
        )
    )
    sections = []
    for line, stations in grouped.items():
        body = []
        for station, items in stations.items():
            body.append(
                html.Tr(
                    html.Td(f"{t(lang, 'station')} {station}", colSpan=7), className="station-row"
                )
            )
            for r in items:
                body.append(_row(ctx, r, lang))
        n_alarm = sum(1 for s in stations.values() for r in s if r.get("status") == "alarm")
        sections.append(
            html.Section(
                [
                    html.Div(
                        [
                            html.Span(t(lang, "line"), className="eyebrow"),
                            html.H2(line),
                            html.Span(
                                f"{n_alarm} ⚠" if n_alarm else "✓",
                                className="badge badge-danger" if n_alarm else "badge badge-ok",
                            ),
                        ],
                        className="line-head",
                    ),
                    html.Table([header, html.Tbody(body)], className="table overview-table"),
                ],
                className="card line-card",
                **{"data-line": line},
            )
        )
    return sections


def _row(ctx: AppContext, r: dict[str, Any], lang: str) -> html.Tr:
    key = str(r["key"])
    spark = sparkline_svg(
        r.get("spark") or [],
        flagged=r.get("spark_flags") or [],
        lcl=r.get("lcl"),
        ucl=r.get("ucl"),
        center=r.get("center"),
        width=220,
        height=44,
        title=key,
    )
    ooc = r.get("ooc_rate")
    unit = f" {r['unit']}" if r.get("unit") else ""
    last = fmt(r.get("last_value"))
    return html.Tr(
        [
            html.Td(status_light(str(r.get("status", "no_data")), lang)),
            html.Td(
                dcc.Link(
                    [
                        html.Div(str(r.get("name") or key), className="char-name"),
                        html.Div(key, className="char-key"),
                    ],
                    href=ctx.href(f"/chart/{key}"),
                    className="char-link",
                )
            ),
            html.Td(
                [
                    html.Div((last + unit) if last else "—", className="last-value"),
                    html.Div(
                        short(r.get("last_ts"), ctx.settings.tz)[11:] if r.get("last_ts") else "",
                        className="muted small",
                    ),
                ],
                className="num",
            ),
            html.Td(html.Img(src=svg_data_uri(spark), className="sparkline", alt=key)),
            html.Td(cpk_badge(r.get("cpk")), className="num"),
            html.Td(
                "—" if ooc is None else f"{100 * float(ooc):.1f} %",
                className="num " + ("ooc-bad" if ooc else "ooc-ok"),
            ),
            html.Td(
                dcc.Link(
                    str(r.get("open_alarms", 0)),
                    href=ctx.href("/alarms"),
                    className="badge badge-danger",
                )
                if r.get("open_alarms")
                else html.Span("0", className="muted"),
                className="num",
            ),
        ],
        className=f"char-row status-row-{r.get('status')}",
        **{"data-key": key},
    )


def kpis(rows: list[dict[str, Any]], lang: str) -> list[Any]:
    n = len(rows)
    alarms = sum(int(r.get("open_alarms") or 0) for r in rows)
    cpks = [r.get("cpk") for r in rows if r.get("cpk") is not None]
    capable = sum(1 for c in cpks if float(c) >= 1.33)
    no_limits = sum(1 for r in rows if r.get("status") == "no_limits")
    return [
        kpi(t(lang, "overview.kpi.characteristics"), str(n)),
        kpi(
            t(lang, "overview.kpi.alarms"),
            str(alarms),
            tone="danger" if alarms else "ok",
            id_="kpi-open-alarms",
        ),
        kpi(
            t(lang, "overview.kpi.capable"),
            f"{capable} / {len(cpks)}" if cpks else "—",
            tone="ok" if cpks and capable == len(cpks) else "warn" if cpks else "neutral",
        ),
        kpi(
            t(lang, "overview.kpi.no_limits"),
            str(no_limits),
            tone="warn" if no_limits else "neutral",
        ),
    ]


def register(ctx: AppContext) -> None:
    @ctx.app.callback(
        Output("ov-body", "children"),
        Output("ov-kpis", "children"),
        Output("ov-lines", "options"),
        Output("ov-updated", "children"),
        Input("ov-tick", "n_intervals"),
        Input("ov-lines", "value"),
        State("session", "data"),
        State("lang", "data"),
    )
    def refresh(
        _: int, lines: list[str] | None, session_data: Any, lang_value: str | None
    ) -> tuple[Any, ...]:
        lang = ctx.lang(lang_value)
        try:
            rows = overview_rows(ctx.client(session_data))
        except ApiError as exc:
            return error_message(exc, lang), no_update, no_update, no_update
        options = [
            {"label": f"{t(lang, 'line')} {x}", "value": x}
            for x in sorted({r["line"] for r in rows})
        ]
        chosen = [x for x in (lines or []) if x]
        visible = [r for r in rows if not chosen or r["line"] in chosen]
        now = datetime.now(ctx.settings.tz).strftime("%H:%M:%S")
        return (
            render_rows(ctx, rows, lang, chosen or None),
            kpis(visible, lang),
            options,
            t(lang, "common.updated", time=now),
        )
