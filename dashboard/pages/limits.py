"""Limits: choose a phase I window on the chart, see the proposal and what it would have flagged,
approve it; the version history says who computed and approved each version, and why.

SPC keeps limits frozen until someone decides otherwise (STYLE.md: never re-baseline silently),
so a new version is two explicit steps - propose, then approve - by an engineer. The preview
re-judges the whole history against the proposed center and sigma with the same ``spc`` rules
the service uses, so the engineer sees the consequence before approving.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, dcc, html, no_update

from dashboard import analysis, roles
from dashboard.api import ApiError
from dashboard.components import card, error_message, graph, message, table
from dashboard.context import AppContext, Session
from dashboard.data import parallel
from dashboard.figures.control_chart import control_chart_figure, fmt
from dashboard.figures.downsample import downsample_chart
from dashboard.figures.timefmt import short, to_utc_iso
from dashboard.i18n import rule_text, t

MINIMUM_ACTION = "view"


def layout(
    ctx: AppContext, session: Session, lang: str, args: list[str], query: dict[str, str]
) -> Any:
    key = "/".join(args) or None
    editable = roles.can(session.role, "propose_limits")
    proposal_body: list[Any]
    if editable:
        proposal_body = [
            html.P(t(lang, "limits.help"), className="muted small"),
            html.Div(
                [
                    html.Div(
                        [
                            html.Label(t(lang, "limits.from"), htmlFor="lm-from"),
                            dcc.Input(
                                id="lm-from", className="input", placeholder="YYYY-MM-DD HH:MM:SS"
                            ),
                        ],
                        className="field",
                    ),
                    html.Div(
                        [
                            html.Label(t(lang, "limits.to"), htmlFor="lm-to"),
                            dcc.Input(
                                id="lm-to", className="input", placeholder="YYYY-MM-DD HH:MM:SS"
                            ),
                        ],
                        className="field",
                    ),
                    html.Div(
                        [
                            html.Label(t(lang, "limits.reason"), htmlFor="lm-reason"),
                            dcc.Input(
                                id="lm-reason",
                                className="input",
                                placeholder=t(lang, "limits.reason_placeholder"),
                            ),
                        ],
                        className="field field-wide",
                    ),
                ],
                className="form-grid",
            ),
            html.Div(
                [
                    html.Button(
                        t(lang, "limits.propose"),
                        id="lm-propose",
                        className="btn btn-primary",
                        n_clicks=0,
                    ),
                    html.Button(
                        "",
                        id="lm-approve",
                        className="btn btn-approve",
                        n_clicks=0,
                        style={"display": "none"},
                    ),
                ],
                className="form-actions",
            ),
            html.Div(id="lm-proposal"),
        ]
    else:
        proposal_body = [message(t(lang, "limits.readonly"), "info")]
    return html.Div(
        [
            dcc.Store(id="lm-key", data=key),
            dcc.Store(id="lm-refresh", data=0),
            dcc.Store(id="lm-proposal-data", data=None),
            html.Div(
                [
                    html.H1(t(lang, "limits.title")),
                    html.Div(
                        [
                            html.Label(t(lang, "limits.characteristic"), htmlFor="lm-char"),
                            dcc.Dropdown(
                                id="lm-char",
                                value=key,
                                options=[{"label": key, "value": key}] if key else [],
                                clearable=False,
                                className="dropdown dropdown-wide",
                            ),
                        ],
                        className="toolbar",
                    ),
                ],
                className="page-head",
            ),
            html.Div(id="lm-load-error"),
            html.Div(id="lm-message"),
            html.Div(
                [
                    html.Div(
                        [
                            card(
                                t(lang, "limits.current"),
                                graph("lm-graph", class_name="limits-graph"),
                                extra=html.Div(id="lm-current", className="current-limits"),
                            ),
                            html.Div(
                                card(
                                    t(lang, "fig.proposed"),
                                    graph("lm-preview", class_name="limits-graph"),
                                ),
                                id="lm-preview-wrap",
                                style={"display": "none"},
                            ),
                        ],
                        className="limits-main",
                    ),
                    html.Div(
                        card(t(lang, "limits.propose"), proposal_body, class_name="proposal-card"),
                        className="limits-side",
                    ),
                ],
                className="limits-grid",
            ),
            card(t(lang, "limits.history"), html.Div(id="lm-history")),
        ]
    )


def version_state(v: dict[str, Any]) -> str:
    if v.get("current"):
        return "active"
    if not v.get("approved_at") and not v.get("approved_by"):
        return "proposed"
    return "superseded"


def history_table(ctx: AppContext, versions: list[dict[str, Any]], lang: str) -> Any:
    if not versions:
        return message(t(lang, "limits.none"), "info")
    rows, classes = [], []
    for v in sorted(versions, key=lambda v: -int(v.get("version", 0))):
        phase1 = v.get("phase1") or {}
        window = ""
        if phase1.get("from") or phase1.get("to"):
            tz = ctx.settings.tz
            window = f"{short(phase1.get('from'), tz)} → {short(phase1.get('to'), tz)}"
        if phase1.get("n") or phase1.get("points"):
            window += f" ({phase1.get('n') or phase1.get('points')})"
        state = version_state(v)
        reasons = [x for x in (v.get("reason"), v.get("approval_reason")) if x]
        rows.append(
            [
                f"v{v.get('version')}",
                html.Span(t(lang, f"limits.state.{state}"), className=f"badge vstate-{state}"),
                fmt(v.get("center")),
                fmt(v.get("sigma"), 4),
                fmt(v.get("lcl")),
                fmt(v.get("ucl")),
                window,
                " · ".join(
                    x
                    for x in (v.get("computed_by"), short(v.get("computed_at"), ctx.settings.tz))
                    if x
                ),
                " · ".join(
                    x
                    for x in (v.get("approved_by"), short(v.get("approved_at"), ctx.settings.tz))
                    if x
                ),
                " / ".join(reasons),
            ]
        )
        classes.append(f"version-row vstate-row-{state}")
    cols = (
        "version",
        "state",
        "center",
        "sigma",
        "lcl",
        "ucl",
        "window",
        "created",
        "approved",
        "reason",
    )
    return table(
        [t(lang, f"limits.col.{c}") for c in cols],
        rows,
        row_classes=classes,
        class_name="versions-table",
        id_="lm-history-table",
    )


def current_summary(versions: list[dict[str, Any]], lang: str) -> Any:
    active = next((v for v in versions if v.get("current")), None)
    if not active:
        return html.Span(t(lang, "chart.no_limits"), className="muted small")
    return html.Span(
        f"v{active.get('version')} · CL {fmt(active.get('center'))} · "
        f"LCL {fmt(active.get('lcl'))} · UCL {fmt(active.get('ucl'))} · "
        f"σ {fmt(active.get('sigma'), 4)}",
        className="small",
    )


def proposal_view(
    proposal: dict[str, Any],
    current: tuple[int, dict[str, int]],
    proposed: tuple[int, dict[str, int]],
    lang: str,
) -> Any:
    facts = [
        ("CL", proposal.get("center")),
        ("σ", proposal.get("sigma")),
        ("LCL", proposal.get("lcl")),
        ("UCL", proposal.get("ucl")),
    ]
    by_rule = [
        html.Li(f"{rule_text(rule, lang)}: {count}") for rule, count in sorted(proposed[1].items())
    ]
    return html.Div(
        [
            html.H4(t(lang, "limits.proposed", version=proposal.get("version"))),
            html.Dl(
                [x for k, v in facts for x in (html.Dt(k), html.Dd(fmt(v)))], className="cap-facts"
            ),
            html.P(
                t(lang, "limits.would_flag", proposed=proposed[0], current=current[0]),
                id="lm-would-flag",
                className="would-flag",
            ),
            html.Div([html.Strong(t(lang, "limits.by_rule")), html.Ul(by_rule)])
            if by_rule
            else None,
        ],
        className="proposal",
    )


def register(ctx: AppContext) -> None:
    app = ctx.app

    @app.callback(
        Output("lm-graph", "figure"),
        Output("lm-history", "children"),
        Output("lm-current", "children"),
        Output("lm-char", "options"),
        Output("lm-char", "value"),
        Output("lm-load-error", "children"),
        Input("lm-char", "value"),
        Input("lm-refresh", "data"),
        Input("lang", "data"),
        State("session", "data"),
    )
    def load(key: str | None, _: int, lang_value: str | None, session_data: Any) -> tuple[Any, ...]:
        lang = ctx.lang(lang_value)
        api = ctx.client(session_data)
        try:
            chars = api.characteristics()
        except ApiError as exc:
            return no_update, no_update, no_update, no_update, no_update, error_message(exc, lang)
        options = [
            {"label": f"{c.get('name') or c['key']} ({c['key']})", "value": c["key"]}
            for c in sorted(chars, key=lambda c: c["key"])
        ]
        if not key and chars:
            key = options[0]["value"]
        if not key:
            return {}, message(t(lang, "overview.empty"), "info"), "", options, None, ""
        characteristic, chart, versions = parallel(
            [
                lambda: api.characteristic(key),
                lambda: api.chart(key, max_points=ctx.settings.max_points),
                lambda: api.limits(key),
            ]
        )
        for result in (characteristic, chart, versions):
            if isinstance(result, Exception):
                return {}, "", "", options, key, error_message(result, lang)
        assert (
            isinstance(chart, dict)
            and isinstance(characteristic, dict)
            and isinstance(versions, list)
        )
        fig = control_chart_figure(
            downsample_chart(chart, ctx.settings.max_points),
            characteristic=characteristic,
            lang=lang,
            tz=ctx.settings.tz,
            dragmode="select",
            uirevision=f"limits-{key}",
        )
        return (
            fig,
            history_table(ctx, versions, lang),
            current_summary(versions, lang),
            options,
            key,
            "",
        )

    @app.callback(
        Output("lm-from", "value"),
        Output("lm-to", "value"),
        Input("lm-graph", "selectedData"),
        prevent_initial_call=True,
    )
    def selected(selection: dict[str, Any] | None) -> tuple[Any, Any]:
        if not selection:
            raise dash.exceptions.PreventUpdate
        rng = (selection.get("range") or {}).get("x")
        if rng and len(rng) == 2:
            lo, hi = sorted(str(v) for v in rng)
            return lo[:19], hi[:19]
        xs = sorted(str(p["x"]) for p in selection.get("points") or [] if "x" in p)
        if not xs:
            raise dash.exceptions.PreventUpdate
        return xs[0][:19], xs[-1][:19]

    @app.callback(
        Output("lm-proposal", "children"),
        Output("lm-proposal-data", "data"),
        Output("lm-preview", "figure"),
        Output("lm-preview-wrap", "style"),
        Output("lm-approve", "children"),
        Output("lm-approve", "style"),
        Input("lm-propose", "n_clicks"),
        State("lm-char", "value"),
        State("lm-from", "value"),
        State("lm-to", "value"),
        State("lm-reason", "value"),
        State("session", "data"),
        State("lang", "data"),
        prevent_initial_call=True,
    )
    def propose(
        n: int,
        key: str | None,
        start: str | None,
        end: str | None,
        reason: str | None,
        session_data: Any,
        lang_value: str | None,
    ) -> tuple[Any, ...]:
        lang = ctx.lang(lang_value)
        if not n or not key:
            raise dash.exceptions.PreventUpdate
        if not start or not end:
            return (
                message(t(lang, "limits.need_window"), "warn"),
                None,
                no_update,
                {"display": "none"},
                "",
                {"display": "none"},
            )
        api = ctx.client(session_data)
        try:
            proposal = api.propose_limits(
                key,
                start=to_utc_iso(start, ctx.settings.tz),
                end=to_utc_iso(end, ctx.settings.tz),
                reason=reason,
            )
            characteristic = api.characteristic(key)
            chart = api.chart(key)
        except (ApiError, ValueError) as exc:
            return (
                error_message(exc, lang),
                None,
                no_update,
                {"display": "none"},
                "",
                {"display": "none"},
            )
        judged = analysis.rejudge(
            chart,
            center=float(proposal["center"]),
            sigma=float(proposal["sigma"]),
            rules=characteristic.get("rules"),
            nsigmas=float(proposal.get("nsigmas") or 3.0),
        )
        current = analysis.flag_counts(chart.get("points") or [])
        proposed = analysis.flag_counts(judged["points"])
        fig = control_chart_figure(
            downsample_chart(judged, ctx.settings.max_points),
            characteristic=characteristic,
            lang=lang,
            tz=ctx.settings.tz,
            phase1_window=(start, end),
            uirevision=f"preview-{key}",
        )
        version = proposal.get("version")
        return (
            proposal_view(proposal, current, proposed, lang),
            {"key": key, "version": version},
            fig,
            {"display": "block"},
            t(lang, "limits.approve", version=version),
            {"display": "inline-block"},
        )

    @app.callback(
        Output("lm-message", "children", allow_duplicate=True),
        Output("lm-refresh", "data"),
        Output("lm-approve", "style", allow_duplicate=True),
        Input("lm-approve", "n_clicks"),
        State("lm-proposal-data", "data"),
        State("lm-reason", "value"),
        State("lm-refresh", "data"),
        State("session", "data"),
        State("lang", "data"),
        prevent_initial_call=True,
    )
    def approve(
        n: int,
        proposal: dict[str, Any] | None,
        reason: str | None,
        refresh: int,
        session_data: Any,
        lang_value: str | None,
    ) -> tuple[Any, ...]:
        lang = ctx.lang(lang_value)
        if not n or not proposal:
            raise dash.exceptions.PreventUpdate
        try:
            ctx.client(session_data).approve_limits(
                proposal["key"], int(proposal["version"]), reason=reason
            )
        except ApiError as exc:
            return error_message(exc, lang), no_update, no_update
        return (
            message(t(lang, "limits.approved", version=proposal["version"]), "ok"),
            (refresh or 0) + 1,
            {"display": "none"},
        )
