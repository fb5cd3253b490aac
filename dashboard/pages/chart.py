"""Control chart page of one characteristic: the stacked chart, histogram and capability.

Live updates poll: every ``chart_refresh_ms`` a small request asks the service for the points
after the last one drawn (:mod:`dashboard.live`); only when some came does the page redraw the
chart (``uirevision`` keeps the user's zoom). With a one-second poll a new violation is on
screen well within two seconds of its ingest, with no page reload and no push machinery.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import dash
from dash import ClientsideFunction, Input, Output, State, dcc, html, no_update

from dashboard.api import ApiError
from dashboard.components import (
    badge,
    capability_panel,
    card,
    error_message,
    graph,
    message,
    status_light,
)
from dashboard.context import DEFAULT_WINDOW, WINDOWS, AppContext, Session, window_start
from dashboard.data import ChartBundle
from dashboard.figures.control_chart import control_chart_figure, fmt
from dashboard.figures.histogram import histogram_figure
from dashboard.figures.timefmt import age_seconds, format_age
from dashboard.i18n import rule_text, t

MINIMUM_ACTION = "view"
CSV_FIELDS = (
    "i",
    "ts",
    "lot",
    "n",
    "stat",
    "center",
    "lcl",
    "ucl",
    "violations",
    "alarm_id",
    "limit_version",
    "dispersion_stat",
    "dispersion_lcl",
    "dispersion_ucl",
    "dispersion_violations",
)


def layout(
    ctx: AppContext, session: Session, lang: str, args: list[str], query: dict[str, str]
) -> Any:
    key = "/".join(args)
    window = query.get("window", DEFAULT_WINDOW)
    if window not in WINDOWS:
        window = DEFAULT_WINDOW
    return html.Div(
        [
            dcc.Store(id="cc-key", data=key),
            dcc.Store(id="cc-state", data={}),
            dcc.Store(id="cc-signal", data=None),
            html.Div(
                [
                    html.Div(
                        [
                            dcc.Link(
                                t(lang, "chart.back"), href=ctx.href("/"), className="back-link"
                            ),
                            html.H1(key, id="cc-title"),
                            html.Div(id="cc-meta", className="meta"),
                        ]
                    ),
                    html.Div(
                        [
                            dcc.RadioItems(
                                id="cc-window",
                                options=[
                                    {"label": t(lang, f"chart.window.{w}"), "value": w}
                                    for w in WINDOWS
                                ],
                                value=window,
                                className="segmented",
                                inputClassName="segmented-input",
                                labelClassName="segmented-label",
                                inline=True,
                            ),
                            html.Span(
                                [html.Span(className="live-dot"), t(lang, "chart.live")],
                                className="live",
                                id="cc-live",
                            ),
                            html.Button(
                                t(lang, "chart.export_png"),
                                id="cc-png",
                                className="btn",
                                n_clicks=0,
                            ),
                            html.Button(
                                t(lang, "chart.export_csv"),
                                id="cc-csv",
                                className="btn",
                                n_clicks=0,
                            ),
                            dcc.Download(id="cc-download"),
                            html.Span(id="cc-png-done", style={"display": "none"}),
                        ],
                        className="toolbar",
                    ),
                ],
                className="page-head",
            ),
            html.Div(id="cc-message"),
            html.Div(
                [
                    html.Div(
                        [
                            graph("cc-graph", class_name="chart-graph"),
                            html.Div(id="cc-note", className="muted small note"),
                        ],
                        className="card chart-main",
                    ),
                    html.Div(
                        [
                            card(
                                t(lang, "chart.histogram"),
                                graph("cc-hist", class_name="hist-graph"),
                                class_name="hist-card",
                            ),
                            card(
                                t(lang, "chart.capability"),
                                html.Div(id="cc-cap"),
                                class_name="cap-card",
                            ),
                            card(
                                t(lang, "chart.open_alarms"),
                                html.Div(id="cc-alarms"),
                                class_name="alarms-card",
                            ),
                        ],
                        className="chart-side",
                    ),
                ],
                className="chart-grid",
            ),
            dcc.Interval(id="cc-tick", interval=ctx.settings.chart_refresh_ms, n_intervals=0),
        ],
        className="chart-page",
    )


def meta(ctx: AppContext, bundle: ChartBundle, lang: str) -> list[Any]:
    c = bundle.characteristic
    points = bundle.chart.get("points") or []
    version = bundle.chart.get("limit_version") or (
        points[-1].get("limit_version") if points else None
    )
    status = "alarm" if bundle.open_alarms else ("ok" if version is not None else "no_limits")
    parts: list[Any] = [
        status_light(status, lang),
        badge(f"{t(lang, 'chart.kind')} {str(c.get('chart', '')).upper()}"),
    ]
    if c.get("subgroup_size") and int(c["subgroup_size"]) > 1:
        parts.append(badge(f"n = {c['subgroup_size']}"))
    if c.get("lsl") is not None or c.get("usl") is not None:
        parts.append(
            badge(
                t(lang, "chart.spec", lsl=fmt(c.get("lsl")) or "−∞", usl=fmt(c.get("usl")) or "+∞")
                + (f" {c['unit']}" if c.get("unit") else "")
            )
        )
    if version is not None:
        parts.append(
            badge(t(lang, "chart.limits_version", version=version), "info", id="cc-version")
        )
    return parts


def figures(
    ctx: AppContext, bundle: ChartBundle, lang: str, *, with_histogram: bool = True
) -> tuple[Any, Any]:
    c = bundle.characteristic
    main = control_chart_figure(
        bundle.chart, characteristic=c, lang=lang, tz=ctx.settings.tz, uirevision=c.get("key")
    )
    if not with_histogram:
        return main, no_update
    hist = histogram_figure(
        bundle.values,
        capability=bundle.capability,
        lsl=c.get("lsl"),
        usl=c.get("usl"),
        target=c.get("target"),
        unit=c.get("unit"),
        lang=lang,
    )
    return main, hist


def alarm_list(ctx: AppContext, alarms: list[dict[str, Any]], lang: str) -> Any:
    if not alarms:
        return html.Div(t(lang, "alarms.none_open"), className="muted")
    return html.Ul(
        [
            html.Li(
                [
                    html.Span(f"#{a.get('id')}", className="alarm-id"),
                    html.Span(rule_text(str(a.get("rule")), lang), className="alarm-rule"),
                    html.Span(
                        format_age(age_seconds(a["opened_at"]), lang) if a.get("opened_at") else "",
                        className="muted small",
                    ),
                ],
                className="alarm-item",
            )
            for a in alarms
        ]
        + [html.Li(dcc.Link(t(lang, "nav.alarms") + " →", href=ctx.href("/alarms")))],
        className="alarm-list",
    )


def chart_csv(chart: dict[str, Any]) -> str:
    """Every point of the window, one row per subgroup, dispersion columns alongside."""
    disp = {d.get("i"): d for d in ((chart.get("dispersion") or {}).get("points") or [])}
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for p in chart.get("points") or []:
        row = {k: p.get(k) for k in CSV_FIELDS}
        row["center"] = p.get("center", chart.get("center"))
        row["violations"] = " ".join(p.get("violations") or [])
        d = disp.get(p.get("i"))
        if d:
            row.update(
                dispersion_stat=d.get("stat"),
                dispersion_lcl=d.get("lcl"),
                dispersion_ucl=d.get("ucl"),
                dispersion_violations=" ".join(d.get("violations") or []),
            )
        writer.writerow(row)
    return out.getvalue()


def render_bundle(
    ctx: AppContext, bundle: ChartBundle, lang: str, key: str, *, tail: bool = False
) -> tuple[Any, ...]:
    """Everything the chart page shows for one load: figures, capability, header, alarms, the
    thinning note and a message (no data, no approved limits). ``tail``: only new points came,
    so the histogram and capability (refreshed by full loads) stay as drawn."""
    main, hist = figures(ctx, bundle, lang, with_histogram=not tail)
    thin = bundle.chart.get("downsampled")
    note = (
        t(lang, "common.points", shown=f"{thin['returned']:,}", total=f"{thin['points']:,}")
        if thin
        else ""
    )
    msg: Any = ""
    if not bundle.chart.get("points"):
        msg = message(t(lang, "chart.no_data"), "info")
    elif (
        bundle.chart.get("limit_version") is None
        and bundle.characteristic.get("current_limit_version") is None
    ):
        msg = message(t(lang, "chart.no_limits"), "warn")
    title = bundle.characteristic.get("name") or key
    return (
        main,
        hist,
        no_update if tail else capability_panel(bundle.capability, lang),
        meta(ctx, bundle, lang),
        [title, html.Span(key, className="title-key")],
        alarm_list(ctx, bundle.open_alarms, lang),
        note,
        msg,
    )


def register(ctx: AppContext) -> None:
    app = ctx.app

    @app.callback(
        Output("cc-graph", "figure"),
        Output("cc-hist", "figure"),
        Output("cc-cap", "children"),
        Output("cc-meta", "children"),
        Output("cc-title", "children"),
        Output("cc-alarms", "children"),
        Output("cc-note", "children"),
        Output("cc-message", "children"),
        Output("cc-state", "data"),
        Input("cc-signal", "data"),
        Input("cc-window", "value"),
        Input("lang", "data"),
        State("cc-key", "data"),
        State("cc-state", "data"),
        State("session", "data"),
    )
    def render(
        signal: dict[str, Any] | None,
        window: str,
        lang_value: str | None,
        key: str,
        state: dict[str, Any] | None,
        session_data: Any,
    ) -> tuple[Any, ...]:
        """Draw the cached chart: on opening, on a window or language change, and when the poll
        below signals new points (then only the chart, not histogram and capability)."""
        lang = ctx.lang(lang_value)
        state = state or {}
        api = ctx.client(session_data)
        try:
            api.characteristic(key)  # this session's token may read it (the cache is shared)
            bundle = ctx.live.current(api, key, window)
        except ApiError as exc:
            return (no_update,) * 7 + (error_message(exc, lang), no_update)
        same_view = state.get("window") == window and state.get("lang") == lang
        tail = (
            dash.ctx.triggered_id == "cc-signal"
            and (signal or {}).get("how") == "tail"
            and same_view
        )
        new_state = {"window": window, "lang": lang, "fp": bundle.fingerprint}
        return (*render_bundle(ctx, bundle, lang, key, tail=tail), new_state)

    @app.callback(
        Output("cc-signal", "data"),
        Input("cc-tick", "n_intervals"),
        State("cc-key", "data"),
        State("cc-window", "value"),
        State("cc-signal", "data"),
        State("session", "data"),
        running=[(Output("cc-tick", "disabled"), True, False)],  # polls never overlap
        prevent_initial_call=True,
    )
    def poll(
        _: int, key: str, window: str, signal: dict[str, Any] | None, session_data: Any
    ) -> dict[str, Any]:
        """Ask the service for points after the last one drawn; signal the renderer only when
        some came. A separate callback, so a slow full load never races the live poll."""
        try:
            _, how = ctx.live.update(ctx.client(session_data), key, window)
        except ApiError:
            raise dash.exceptions.PreventUpdate from None
        if how == "same":
            raise dash.exceptions.PreventUpdate
        return {"n": int((signal or {}).get("n", 0)) + 1, "how": how}

    @app.callback(
        Output("cc-download", "data"),
        Input("cc-csv", "n_clicks"),
        State("cc-key", "data"),
        State("cc-window", "value"),
        State("session", "data"),
        prevent_initial_call=True,
    )
    def export_csv(n_clicks: int, key: str, window: str, session_data: Any) -> Any:
        if not n_clicks:
            raise dash.exceptions.PreventUpdate
        chart = ctx.client(session_data).chart(key, start=window_start(window))
        return dcc.send_string(chart_csv(chart), filename=f"{key}-{window}.csv", type="text/csv")

    app.clientside_callback(
        ClientsideFunction(namespace="linewatch", function_name="exportPng"),
        Output("cc-png-done", "children"),
        Input("cc-png", "n_clicks"),
        State("cc-key", "data"),
        prevent_initial_call=True,
    )
