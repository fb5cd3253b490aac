"""Quality cost (manager): the cost of poor quality over time, split by disposition (scrap,
rework, ...), line, product or defect code; the Pareto of defect codes by count or cost;
first-pass yield and PPM; COPQ as a share of the output's value; and the SPC alarms that came
before a cost spike on the same line.

The last panel closes the loop between SPC and money: a spike on a line is listed with the
alarms opened on that line in the day before it, so a manager sees whether the signal was there
and whether anyone acted on it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from dash import Input, Output, State, dcc, html

from dashboard import analysis
from dashboard.api import ApiError, NotFoundError
from dashboard.components import card, error_message, graph, kpi, message
from dashboard.context import AppContext, Session
from dashboard.data import parallel
from dashboard.figures.quality import (
    bucket_label,
    cost_trend_figure,
    pareto_figure,
    pareto_items,
    yield_figure,
)
from dashboard.i18n import t

MINIMUM_ACTION = "quality_cost"
SPIKE_LOOKBACK_HOURS = 24.0
VIEWS = ("disposition", "line", "product", "defect_code")
PARETO_BARS = 12


def layout(
    ctx: AppContext, session: Session, lang: str, args: list[str], query: dict[str, str]
) -> Any:
    def radio(id_: str, prefix: str, values: tuple[str, ...], value: str) -> Any:
        return dcc.RadioItems(
            id=id_,
            options=[{"label": t(lang, f"{prefix}.{v}"), "value": v} for v in values],
            value=value,
            inline=True,
            className="segmented",
            inputClassName="segmented-input",
            labelClassName="segmented-label",
        )

    return html.Div(
        [
            html.Div(
                [
                    html.H1(t(lang, "quality.title")),
                    html.Div(
                        [
                            html.Label(t(lang, "quality.bucket")),
                            radio("qc-bucket", "quality.bucket", ("day", "week", "month"), "day"),
                            html.Label(t(lang, "quality.by")),
                            radio("qc-by", "quality.by", VIEWS, "disposition"),
                            html.Label(t(lang, "quality.days")),
                            dcc.Dropdown(
                                id="qc-days",
                                options=[{"label": f"{d} d", "value": d} for d in (7, 30, 90, 365)],
                                value=30,
                                clearable=False,
                                className="dropdown dropdown-narrow",
                            ),
                        ],
                        className="toolbar",
                    ),
                ],
                className="page-head",
            ),
            html.Div(id="qc-message"),
            html.Div(id="qc-kpis", className="kpis"),
            html.Div(
                [
                    card(
                        t(lang, "quality.trend"),
                        graph("qc-trend", class_name="quality-graph"),
                        class_name="span-2",
                    ),
                    card(
                        t(lang, "quality.pareto"),
                        graph("qc-pareto", class_name="quality-graph"),
                        extra=radio("qc-measure", "quality.measure", ("count", "cost"), "count"),
                    ),
                    card(t(lang, "quality.yield"), graph("qc-yield", class_name="quality-graph")),
                    card(t(lang, "quality.spikes"), html.Div(id="qc-spikes"), class_name="span-2"),
                ],
                className="quality-grid",
            ),
        ]
    )


def labelled(rows: list[dict[str, Any]], bucket: str) -> list[dict[str, Any]]:
    """API rows with a calendar ``period`` label next to their ``bucket`` start."""
    return [{**r, "period": bucket_label(r.get("bucket"), bucket)} for r in rows]


def spikes_panel(
    spikes: list[dict[str, Any]],
    alarms: list[dict[str, Any]],
    bucket: str,
    currency: str,
    lang: str,
) -> Any:
    if not spikes:
        return message(t(lang, "quality.no_spikes"), "ok")
    items = []
    for s in spikes[:6]:
        before = analysis.alarms_before(
            alarms,
            line=str(s["line"]),
            period=str(s["period"]),
            hours=SPIKE_LOOKBACK_HOURS,
            bucket=bucket,
        )
        ratio = "∞" if s["ratio"] == float("inf") else f"{s['ratio']:.1f}"
        cost = f"{currency} {s['cost']:,.0f}".strip()
        items.append(
            html.Li(
                [
                    html.Div(
                        t(
                            lang,
                            "quality.spike_row",
                            period=s["period"],
                            line=s["line"],
                            cost=cost,
                            ratio=ratio,
                        ),
                        className="spike-head",
                    ),
                    html.Div(
                        t(
                            lang,
                            "quality.alarms_before",
                            n=len(before),
                            hours=int(SPIKE_LOOKBACK_HOURS),
                        ),
                        className="muted small",
                    ),
                    html.Ul(
                        [
                            html.Li(
                                f"#{a.get('id')} {a.get('characteristic')} · {a.get('rule')} · "
                                f"{str(a.get('opened_at'))[:16].replace('T', ' ')} · "
                                f"{a.get('state')}"
                            )
                            for a in before[:8]
                        ],
                        className="spike-alarms",
                    ),
                ],
                className="spike",
            )
        )
    return html.Ul(items, className="spikes")


def register(ctx: AppContext) -> None:
    @ctx.app.callback(
        Output("qc-trend", "figure"),
        Output("qc-pareto", "figure"),
        Output("qc-yield", "figure"),
        Output("qc-spikes", "children"),
        Output("qc-kpis", "children"),
        Output("qc-message", "children"),
        Input("qc-bucket", "value"),
        Input("qc-by", "value"),
        Input("qc-days", "value"),
        Input("qc-measure", "value"),
        Input("lang", "data"),
        State("session", "data"),
    )
    def load(
        bucket: str, by: str, days: int, measure: str, lang_value: str | None, session_data: Any
    ) -> tuple[Any, ...]:
        lang = ctx.lang(lang_value)
        api = ctx.client(session_data)
        start = (
            (datetime.now(UTC) - timedelta(days=int(days or 30))).isoformat().replace("+00:00", "Z")
        )
        cost_body, line_body, pareto_body, plant_body, product_body, alarms, models = parallel(
            [
                lambda: api.quality_cost(bucket=bucket, by=by, start=start),
                lambda: api.quality_cost(bucket=bucket, by="line", start=start),
                lambda: api.pareto(
                    by="defect_code", measure=measure, start=start, limit=PARETO_BARS
                ),
                lambda: api.quality_rates(bucket=bucket, by="site", start=start),
                lambda: api.quality_rates(bucket=bucket, by="product", start=start),
                lambda: api.alarms(start=start, limit=5000),
                api.cost_models,
            ]
        )
        if isinstance(cost_body, NotFoundError):
            return {}, {}, {}, "", "", message(t(lang, "quality.unavailable"), "warn")
        if isinstance(cost_body, Exception):
            return {}, {}, {}, "", "", error_message(cost_body, lang)
        assert isinstance(cost_body, dict)
        rows = labelled(list(cost_body.get("rows") or []), bucket)
        totals = list(cost_body.get("totals") or [])
        currency = str(next((x.get("currency") for x in totals if x.get("currency")), "") or "")
        line_rows = (
            labelled(list(line_body.get("rows") or []), bucket)
            if isinstance(line_body, dict)
            else []
        )
        spikes = analysis.cost_spikes(
            [
                {"period": r["period"], "line": r.get("key"), "cost": r.get("cost")}
                for r in line_rows
            ],
            group_key="line",
        )
        value = {}
        if isinstance(product_body, dict) and isinstance(models, list):
            value = analysis.output_value(
                labelled(list(product_body.get("rows") or []), bucket), models
            )
        share = analysis.copq_share(rows, value)
        trend = cost_trend_figure(
            rows,
            currency=currency,
            lang=lang,
            share=share,
            spikes=spikes if by in ("line", "disposition") else (),
        )
        pareto_rows: list[dict[str, Any]] = []
        other = None
        pareto_currency = currency
        if isinstance(pareto_body, dict):
            pareto_rows = list(pareto_body.get("items") or [])
            other = pareto_body.get("other")
            pareto_currency = str(pareto_body.get("currency") or currency)
        pareto = pareto_figure(
            pareto_rows, measure=measure, currency=pareto_currency, lang=lang, other=other
        )
        plant = (
            analysis.plant_rates(labelled(list(plant_body.get("rows") or []), bucket))
            if isinstance(plant_body, dict)
            else []
        )
        yfig = yield_figure(plant, lang=lang)
        alarm_rows = alarms if isinstance(alarms, list) else []
        total_cost = (
            sum(float(x.get("cost") or 0) for x in totals)
            if totals
            else sum(float(r.get("cost") or 0) for r in rows)
        )
        total_value = sum(value.values())
        good = sum(r["good"] for r in plant)
        bad = sum(r["nonconforming"] for r in plant)
        fpy = good / (good + bad) if good + bad else None
        ppm = bad / (good + bad) * 1e6 if good + bad else None
        ranked = pareto_items(pareto_rows, measure)
        top = ranked[0] if ranked else None
        tiles = [
            kpi(
                t(lang, "quality.kpi.total"),
                f"{currency} {total_cost:,.0f}".strip(),
                id_="kpi-copq",
            ),
            kpi(
                t(lang, "quality.kpi.share"),
                f"{100 * total_cost / total_value:.2f} %" if total_value else "—",
            ),
            kpi(t(lang, "quality.kpi.fpy"), f"{100 * fpy:.2f} %" if fpy is not None else "—"),
            kpi(t(lang, "quality.kpi.ppm"), f"{ppm:,.0f}" if ppm is not None else "—"),
            kpi(
                t(lang, "quality.kpi.top"),
                (f"{top[0]} · {top[1]}" if top[1] != top[0] else top[0]) if top else "—",
                id_="kpi-top-defect",
            ),
        ]
        note = ""
        if isinstance(pareto_body, ApiError):
            note = error_message(pareto_body, lang)
        return (
            trend,
            pareto,
            yfig,
            spikes_panel(spikes, alarm_rows, bucket, currency, lang),
            tiles,
            note,
        )
