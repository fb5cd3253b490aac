"""Kiosk mode: a shop-floor screen cycling through chosen charts, full screen, live.

``/kiosk`` picks the charts; ``/kiosk?keys=a,b,c&seconds=20&window=8h`` runs: no navigation,
large type, each chart shown for ``seconds`` and kept live (same tail poll as the chart page).
The URL is the configuration, so a screen is set up by bookmarking it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import dash
from dash import Input, Output, State, dcc, html

from dashboard.api import ApiError
from dashboard.components import error_message, graph, status_light
from dashboard.context import WINDOWS, AppContext, Session
from dashboard.figures.control_chart import control_chart_figure, fmt
from dashboard.figures.histogram import histogram_figure
from dashboard.i18n import t

MINIMUM_ACTION = "view"


def layout(
    ctx: AppContext, session: Session, lang: str, args: list[str], query: dict[str, str]
) -> Any:
    keys = [k for k in (query.get("keys") or "").split(",") if k]
    if not keys:
        return setup_layout(ctx, lang)
    try:
        seconds = max(3, int(query.get("seconds", ctx.settings.kiosk_seconds)))
    except ValueError:
        seconds = ctx.settings.kiosk_seconds
    window = query.get("window", "8h") if query.get("window") in WINDOWS else "8h"
    return html.Div(
        [
            dcc.Store(id="ks-config", data={"keys": keys, "seconds": seconds, "window": window}),
            dcc.Store(id="ks-state", data={}),
            html.Div(
                [
                    html.Div([html.H1(id="ks-title"), html.Div(id="ks-meta", className="meta")]),
                    html.Div(
                        [
                            html.Div(id="ks-clock", className="kiosk-clock"),
                            html.Div(id="ks-next", className="muted"),
                            dcc.Link(
                                t(lang, "kiosk.exit"),
                                href=ctx.href("/kiosk"),
                                className="btn btn-ghost kiosk-exit",
                            ),
                        ],
                        className="kiosk-right",
                    ),
                ],
                className="kiosk-head",
            ),
            html.Div(id="ks-message"),
            html.Div(
                [
                    html.Div(
                        graph("ks-graph", class_name="kiosk-graph"), className="card kiosk-main"
                    ),
                    html.Div(
                        graph("ks-hist", class_name="kiosk-hist"), className="card kiosk-side"
                    ),
                ],
                className="kiosk-grid",
            ),
            dcc.Interval(id="ks-tick", interval=1000, n_intervals=0),
        ],
        className="kiosk",
    )


def setup_layout(ctx: AppContext, lang: str) -> Any:
    return html.Div(
        [
            html.Div(html.H1(t(lang, "kiosk.title")), className="page-head"),
            html.Section(
                [
                    html.P(t(lang, "kiosk.help"), className="muted"),
                    html.Label(t(lang, "kiosk.charts")),
                    dcc.Checklist(
                        id="ks-keys",
                        className="checklist",
                        inputClassName="check-input",
                        labelClassName="check-label",
                    ),
                    html.Div(
                        [
                            html.Div(
                                [
                                    html.Label(t(lang, "kiosk.seconds"), htmlFor="ks-seconds"),
                                    dcc.Input(
                                        id="ks-seconds",
                                        type="number",
                                        min=3,
                                        value=ctx.settings.kiosk_seconds,
                                        className="input input-narrow",
                                    ),
                                ],
                                className="field",
                            ),
                            html.Div(
                                [
                                    html.Label(t(lang, "chart.window")),
                                    dcc.Dropdown(
                                        id="ks-window",
                                        options=[
                                            {"label": t(lang, f"chart.window.{w}"), "value": w}
                                            for w in WINDOWS
                                        ],
                                        value="8h",
                                        clearable=False,
                                        className="dropdown dropdown-narrow",
                                    ),
                                ],
                                className="field",
                            ),
                        ],
                        className="form-grid",
                    ),
                    dcc.Link(
                        t(lang, "kiosk.start"),
                        id="ks-start",
                        href=ctx.href("/kiosk"),
                        className="btn btn-primary",
                    ),
                ],
                className="card kiosk-setup",
            ),
        ]
    )


def kiosk_href(ctx: AppContext, keys: list[str], seconds: int | None, window: str | None) -> str:
    query = urlencode(
        {
            "keys": ",".join(keys),
            "seconds": int(seconds or ctx.settings.kiosk_seconds),
            "window": window or "8h",
        },
        safe=",",
    )
    return ctx.href("/kiosk") + "?" + query


def register(ctx: AppContext) -> None:
    app = ctx.app

    @app.callback(
        Output("ks-keys", "options"),
        Output("ks-keys", "value"),
        Input("ks-keys", "id"),
        State("session", "data"),
    )
    def options(_: str, session_data: Any) -> tuple[Any, Any]:
        try:
            chars = ctx.client(session_data).characteristics()
        except ApiError:
            return [], []
        items = sorted(chars, key=lambda c: c["key"])
        return [
            {"label": f"{c.get('name') or c['key']} ({c['key']})", "value": c["key"]} for c in items
        ], [c["key"] for c in items[:4]]

    @app.callback(
        Output("ks-start", "href"),
        Input("ks-keys", "value"),
        Input("ks-seconds", "value"),
        Input("ks-window", "value"),
    )
    def start_link(keys: list[str] | None, seconds: int | None, window: str | None) -> str:
        return kiosk_href(ctx, list(keys or []), seconds, window)

    @app.callback(
        Output("ks-graph", "figure"),
        Output("ks-hist", "figure"),
        Output("ks-title", "children"),
        Output("ks-meta", "children"),
        Output("ks-message", "children"),
        Output("ks-state", "data"),
        Output("ks-clock", "children"),
        Output("ks-next", "children"),
        Input("ks-tick", "n_intervals"),
        State("ks-config", "data"),
        State("ks-state", "data"),
        State("session", "data"),
        State("lang", "data"),
        running=[(Output("ks-tick", "disabled"), True, False)],
    )
    def tick(
        n: int,
        config: dict[str, Any],
        state: dict[str, Any] | None,
        session_data: Any,
        lang_value: str | None,
    ) -> tuple[Any, ...]:
        from datetime import datetime

        lang = ctx.lang(lang_value)
        state = state or {}
        keys: list[str] = config["keys"]
        seconds = int(config["seconds"])
        index = (int(n or 0) // seconds) % len(keys)
        key = keys[index]
        clock = datetime.now(ctx.settings.tz).strftime("%H:%M:%S")
        countdown = (
            f"{index + 1} / {len(keys)} · "
            + t(lang, "kiosk.next", seconds=seconds - int(n or 0) % seconds)
            if len(keys) > 1
            else ""
        )
        api = ctx.client(session_data)
        same = state.get("key") == key and state.get("lang") == lang
        nothing = (dash.no_update,) * 6
        try:
            bundle, how = ctx.live.update(api, key, str(config.get("window")))
        except ApiError as exc:
            return (dash.no_update,) * 4 + (
                error_message(exc, lang),
                {"key": key, "lang": lang},
                clock,
                countdown,
            )
        if same and how == "same":
            return (*nothing, clock, countdown)
        points = bundle.chart.get("points") or []
        c = bundle.characteristic
        main = control_chart_figure(
            bundle.chart, characteristic=c, lang=lang, tz=ctx.settings.tz, uirevision=f"kiosk-{key}"
        )
        main["layout"]["font"] = {**main["layout"]["font"], "size": 16}
        hist = histogram_figure(
            bundle.values,
            capability=bundle.capability,
            lsl=c.get("lsl"),
            usl=c.get("usl"),
            target=c.get("target"),
            unit=c.get("unit"),
            lang=lang,
        )
        last = points[-1] if points else {}
        status = (
            "alarm"
            if bundle.open_alarms
            else ("ok" if last.get("ucl") is not None else "no_limits")
        )
        cpk = (bundle.capability or {}).get("cpk")
        meta = [
            status_light(status, lang),
            html.Span(
                f"{fmt(last.get('stat'))} {c.get('unit') or ''}".strip(), className="kiosk-value"
            ),
            html.Span(f"Cpk {fmt(cpk, 3)}" if cpk is not None else "", className="kiosk-cpk"),
            html.Span(key, className="muted"),
        ]
        new_state = {"key": key, "lang": lang, "last_ts": last.get("ts"), "last_i": last.get("i")}
        return main, hist, c.get("name") or key, meta, "", new_state, clock, countdown
