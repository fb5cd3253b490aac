"""Alarms: open ones first with their age, acknowledgement with coded cause and action, history.

Acknowledging asks for an assignable cause and a corrective action from code lists (so causes
can be counted later) plus free text. The mean time to acknowledge over the history shown is the
page's headline number: it measures the reaction loop SPC depends on.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import dash
from dash import ALL, Input, Output, State, dcc, html, no_update

from dashboard import analysis, codes, roles
from dashboard.api import ApiError
from dashboard.components import error_message, kpi, message, table
from dashboard.context import AppContext, Session
from dashboard.data import parallel
from dashboard.figures.timefmt import age_seconds, format_age, short
from dashboard.i18n import rule_text, t

MINIMUM_ACTION = "view"
STATES = ("open", "acknowledged", "closed")


def layout(
    ctx: AppContext, session: Session, lang: str, args: list[str], query: dict[str, str]
) -> Any:
    return html.Div(
        [
            dcc.Store(id="al-selected", data=None),
            dcc.Store(id="al-refresh", data=0),
            dcc.Store(id="al-codes", data=None),
            html.Div(
                [
                    html.H1(t(lang, "alarms.title")),
                    html.Span(id="al-updated", className="muted small"),
                ],
                className="page-head",
            ),
            html.Div(id="al-kpis", className="kpis"),
            html.Div(id="al-feedback"),
            html.Div(
                [
                    html.H3(id="al-form-title", className="card-title"),
                    html.Div(
                        [
                            html.Div(
                                [
                                    html.Label(t(lang, "alarms.cause"), htmlFor="al-cause"),
                                    dcc.Dropdown(id="al-cause", className="dropdown"),
                                ],
                                className="field",
                            ),
                            html.Div(
                                [
                                    html.Label(t(lang, "alarms.action"), htmlFor="al-action"),
                                    dcc.Dropdown(id="al-action", className="dropdown"),
                                ],
                                className="field",
                            ),
                            html.Div(
                                [
                                    html.Label(t(lang, "alarms.note"), htmlFor="al-note"),
                                    dcc.Textarea(id="al-note", className="input textarea"),
                                ],
                                className="field field-wide",
                            ),
                        ],
                        className="form-grid",
                    ),
                    html.Div(
                        [
                            html.Button(
                                t(lang, "alarms.submit"),
                                id="al-submit",
                                className="btn btn-primary",
                                n_clicks=0,
                            ),
                            html.Button(
                                t(lang, "alarms.cancel"),
                                id="al-cancel",
                                className="btn",
                                n_clicks=0,
                            ),
                        ],
                        className="form-actions",
                    ),
                ],
                id="al-form",
                className="card ack-form",
                style={"display": "none"},
            ),
            html.Section(
                [
                    html.Div(
                        html.H3(
                            f"{t(lang, 'alarms.open')} / {t(lang, 'alarms.acknowledged')}",
                            className="card-title",
                        ),
                        className="card-head",
                    ),
                    html.Div(id="al-active", className="card-body"),
                ],
                className="card",
            ),
            html.Section(
                [
                    html.Div(
                        [
                            html.H3(t(lang, "alarms.history"), className="card-title"),
                            html.Div(
                                [
                                    dcc.Dropdown(
                                        id="al-f-state",
                                        options=[
                                            {"label": t(lang, f"state.{s}"), "value": s}
                                            for s in STATES
                                        ],
                                        placeholder=t(lang, "alarms.filter.state"),
                                        className="dropdown",
                                    ),
                                    dcc.Dropdown(
                                        id="al-f-char",
                                        placeholder=t(lang, "alarms.filter.characteristic"),
                                        className="dropdown dropdown-wide",
                                    ),
                                    dcc.Dropdown(
                                        id="al-f-days",
                                        options=[
                                            {"label": f"{d} d", "value": d} for d in (1, 7, 30, 90)
                                        ],
                                        value=7,
                                        clearable=False,
                                        className="dropdown dropdown-narrow",
                                    ),
                                ],
                                className="toolbar",
                            ),
                        ],
                        className="card-head",
                    ),
                    html.Div(id="al-history", className="card-body"),
                ],
                className="card",
            ),
            dcc.Interval(id="al-tick", interval=ctx.settings.alarms_refresh_ms, n_intervals=0),
        ]
    )


def active_table(ctx: AppContext, alarms: list[dict[str, Any]], lang: str, role: str | None) -> Any:
    active = [a for a in analysis.sort_alarms(alarms) if a.get("state") in ("open", "acknowledged")]
    if not active:
        return message(t(lang, "alarms.none_open"), "ok")
    rows, classes = [], []
    for a in active:
        aid = a.get("id")
        actions: list[Any] = []
        if a.get("state") == "open" and roles.can(role, "acknowledge"):
            actions.append(
                html.Button(
                    t(lang, "alarms.ack"),
                    id={"type": "al-ack", "id": aid},
                    className="btn btn-primary btn-small",
                    n_clicks=0,
                )
            )
        if a.get("state") == "acknowledged" and roles.can(role, "close_alarm"):
            actions.append(
                html.Button(
                    t(lang, "alarms.close"),
                    id={"type": "al-close", "id": aid},
                    className="btn btn-small",
                    n_clicks=0,
                )
            )
        age = format_age(age_seconds(a["opened_at"]), lang) if a.get("opened_at") else ""
        rows.append(
            [
                f"#{aid}",
                dcc.Link(
                    str(a.get("characteristic")), href=ctx.href(f"/chart/{a.get('characteristic')}")
                ),
                html.Span(
                    [
                        rule_text(str(a.get("rule")), lang),
                        html.Span(
                            t(lang, "alarms.series_dispersion"), className="badge series-badge"
                        )
                        if a.get("series") not in (None, "stat")
                        else None,
                    ],
                    title=str(a.get("rule")),
                ),
                short(a.get("opened_at"), ctx.settings.tz),
                html.Span(age, className="age"),
                str(a.get("hits", "")),
                html.Span(
                    t(lang, f"state.{a.get('state')}"), className=f"badge state-{a.get('state')}"
                ),
                html.Div(actions, className="row-actions"),
            ]
        )
        classes.append(f"alarm-row alarm-{a.get('state')}")
    return table(
        [
            t(lang, f"alarms.col.{c}")
            for c in ("id", "characteristic", "rule", "opened", "age", "hits", "state")
        ]
        + [""],
        rows,
        row_classes=classes,
        class_name="alarms-table",
        id_="al-active-table",
    )


def history_table(ctx: AppContext, alarms: list[dict[str, Any]], lang: str) -> Any:
    if not alarms:
        return message(t(lang, "alarms.none"), "info")
    rows = []
    for a in sorted(alarms, key=lambda a: str(a.get("opened_at")), reverse=True):
        tta = analysis.time_to_ack_seconds(a)
        rows.append(
            [
                f"#{a.get('id')}",
                str(a.get("characteristic")),
                str(a.get("rule")),
                short(a.get("opened_at"), ctx.settings.tz),
                html.Span(
                    t(lang, f"state.{a.get('state')}"), className=f"badge state-{a.get('state')}"
                ),
                codes.label("causes", a.get("cause"), lang),
                codes.label("actions", a.get("action"), lang),
                " · ".join(x for x in (a.get("acknowledged_by"), a.get("note")) if x),
                format_age(tta, lang) if tta is not None else "—",
            ]
        )
    return table(
        [
            t(lang, f"alarms.col.{c}")
            for c in (
                "id",
                "characteristic",
                "rule",
                "opened",
                "state",
                "cause",
                "action",
                "by",
                "tta",
            )
        ],
        rows,
        class_name="history-table",
    )


def kpi_tiles(
    open_alarms: list[dict[str, Any]],
    history: list[dict[str, Any]],
    lang: str,
    stats: dict[str, Any] | None = None,
) -> list[Any]:
    """Open count, oldest open, mean time to acknowledge (the service's statistic over every
    alarm of the range when it gives one, else computed from the listed history), total."""
    oldest = max(
        (age_seconds(a["opened_at"]) for a in open_alarms if a.get("opened_at")), default=None
    )
    stats = stats or {}
    mtta = stats.get("mean_time_to_acknowledge_seconds")
    if mtta is None:
        mtta = analysis.mean_time_to_ack(history)
    return [
        kpi(
            t(lang, "alarms.kpi.open"),
            str(len(open_alarms)),
            tone="danger" if open_alarms else "ok",
            id_="kpi-al-open",
        ),
        kpi(
            t(lang, "alarms.kpi.oldest"),
            format_age(oldest, lang) if oldest is not None else "—",
            tone="warn" if oldest and oldest > 900 else "neutral",
        ),
        kpi(
            t(lang, "alarms.kpi.mtta"),
            format_age(mtta, lang) if mtta is not None else "—",
            id_="kpi-mtta",
        ),
        kpi(t(lang, "alarms.kpi.total"), str(stats.get("total", len(history)))),
    ]


def register(ctx: AppContext) -> None:
    app = ctx.app

    @app.callback(
        Output("al-active", "children"),
        Output("al-history", "children"),
        Output("al-kpis", "children"),
        Output("al-f-char", "options"),
        Output("al-updated", "children"),
        Input("al-tick", "n_intervals"),
        Input("al-refresh", "data"),
        Input("al-f-state", "value"),
        Input("al-f-char", "value"),
        Input("al-f-days", "value"),
        State("session", "data"),
        State("lang", "data"),
    )
    def load(
        _: int,
        __: int,
        state: str | None,
        characteristic: str | None,
        days: int | None,
        session_data: Any,
        lang_value: str | None,
    ) -> tuple[Any, ...]:
        lang = ctx.lang(lang_value)
        session = Session.of(session_data)
        api = ctx.client(session_data)
        since = (
            (datetime.now(UTC) - timedelta(days=int(days or 7))).isoformat().replace("+00:00", "Z")
        )
        opened, acknowledged, history, stats = parallel(
            [
                lambda: api.alarms(state="open"),
                lambda: api.alarms(state="acknowledged"),
                lambda: api.alarms(
                    state=state, characteristic=characteristic, start=since, limit=500
                ),
                lambda: api.alarm_stats(characteristic=characteristic, start=since),
            ]
        )
        for result in (opened, acknowledged, history):
            if isinstance(result, ApiError):
                return error_message(result, lang), no_update, no_update, no_update, no_update
            if isinstance(result, Exception):
                raise result
        assert (
            isinstance(opened, list)
            and isinstance(acknowledged, list)
            and isinstance(history, list)
        )
        chars = sorted({str(a.get("characteristic")) for a in [*opened, *acknowledged, *history]})
        now = datetime.now(ctx.settings.tz).strftime("%H:%M:%S")
        return (
            active_table(ctx, opened + acknowledged, lang, session.role),
            history_table(ctx, history, lang),
            kpi_tiles(opened, history, lang, stats if isinstance(stats, dict) else None),
            [{"label": c, "value": c} for c in chars],
            t(lang, "common.updated", time=now),
        )

    @app.callback(
        Output("al-selected", "data"),
        Output("al-form", "style"),
        Output("al-form-title", "children"),
        Output("al-cause", "options"),
        Output("al-action", "options"),
        Output("al-cause", "value"),
        Output("al-action", "value"),
        Output("al-note", "value"),
        Input({"type": "al-ack", "id": ALL}, "n_clicks"),
        Input("al-cancel", "n_clicks"),
        State("session", "data"),
        State("lang", "data"),
        prevent_initial_call=True,
    )
    def open_form(
        clicks: list[int | None], cancel: int, session_data: Any, lang_value: str | None
    ) -> tuple[Any, ...]:
        lang = ctx.lang(lang_value)
        trigger = dash.ctx.triggered_id
        if trigger == "al-cancel":
            return None, {"display": "none"}, "", no_update, no_update, None, None, ""
        if not isinstance(trigger, dict) or not any(c for c in clicks if c):
            raise dash.exceptions.PreventUpdate
        # A click, not a re-render: the triggering button must have been clicked.
        if not dash.ctx.triggered or not dash.ctx.triggered[0].get("value"):
            raise dash.exceptions.PreventUpdate
        aid = trigger["id"]
        try:
            published = ctx.client(session_data).code_lists()
        except ApiError:
            published = None
        return (
            aid,
            {"display": "block"},
            t(lang, "alarms.ack_title", id=aid),
            codes.options("causes", lang, published),
            codes.options("actions", lang, published),
            None,
            None,
            "",
        )

    @app.callback(
        Output("al-feedback", "children"),
        Output("al-refresh", "data"),
        Output("al-form", "style", allow_duplicate=True),
        Output("al-selected", "data", allow_duplicate=True),
        Input("al-submit", "n_clicks"),
        State("al-selected", "data"),
        State("al-cause", "value"),
        State("al-action", "value"),
        State("al-note", "value"),
        State("al-refresh", "data"),
        State("session", "data"),
        State("lang", "data"),
        prevent_initial_call=True,
    )
    def submit(
        n: int,
        aid: Any,
        cause: str | None,
        action: str | None,
        note: str | None,
        refresh: int,
        session_data: Any,
        lang_value: str | None,
    ) -> tuple[Any, ...]:
        lang = ctx.lang(lang_value)
        if not n or aid is None:
            raise dash.exceptions.PreventUpdate
        if not cause or not action:
            return message(t(lang, "alarms.need_cause"), "warn"), no_update, no_update, no_update
        try:
            ctx.client(session_data).acknowledge(aid, cause=cause, action=action, note=note)
        except ApiError as exc:
            return error_message(exc, lang), (refresh or 0) + 1, no_update, no_update
        return (
            message(t(lang, "alarms.acked", id=aid), "ok"),
            (refresh or 0) + 1,
            {"display": "none"},
            None,
        )

    @app.callback(
        Output("al-feedback", "children", allow_duplicate=True),
        Output("al-refresh", "data", allow_duplicate=True),
        Input({"type": "al-close", "id": ALL}, "n_clicks"),
        State("al-refresh", "data"),
        State("session", "data"),
        State("lang", "data"),
        prevent_initial_call=True,
    )
    def close(
        clicks: list[int | None], refresh: int, session_data: Any, lang_value: str | None
    ) -> tuple[Any, ...]:
        lang = ctx.lang(lang_value)
        trigger = dash.ctx.triggered_id
        if (
            not isinstance(trigger, dict)
            or not dash.ctx.triggered
            or not dash.ctx.triggered[0].get("value")
        ):
            raise dash.exceptions.PreventUpdate
        try:
            ctx.client(session_data).close_alarm(trigger["id"])
        except ApiError as exc:
            return error_message(exc, lang), (refresh or 0) + 1
        return message(t(lang, "alarms.closed", id=trigger["id"]), "ok"), (refresh or 0) + 1
