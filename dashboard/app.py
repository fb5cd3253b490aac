"""The Dash app factory and its shell: header, navigation, language switch, routing.

Routing is one callback on the URL rather than Dash's ``use_pages``: ``use_pages`` registers
pages in a module-level registry at import time, and this app must be buildable many times in
one process (tests, the demo mounting it) with nothing global.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import dash
import httpx
from dash import Input, Output, State, dcc, html

from dashboard import roles
from dashboard.api import ApiClient
from dashboard.context import AppContext, Session
from dashboard.i18n import t
from dashboard.live import LiveCharts
from dashboard.pages import alarms, chart, kiosk, limits, login, overview, quality
from dashboard.settings import DashboardSettings

ASSETS = Path(__file__).parent / "assets"

# First path segment -> page module. Each module has ``layout(ctx, session, lang, args, query)``,
# ``register(ctx)`` and ``MINIMUM_ROLE``.
PAGES: dict[str, Any] = {
    "": overview,
    "chart": chart,
    "alarms": alarms,
    "limits": limits,
    "quality": quality,
    "kiosk": kiosk,
    "login": login,
}
NAV = (
    ("", "nav.overview", "view"),
    ("alarms", "nav.alarms", "view"),
    ("limits", "nav.limits", "propose_limits"),
    ("quality", "nav.quality", "quality_cost"),
    ("kiosk", "nav.kiosk", "view"),
)


def create_app(
    api_url: str | None = None,
    *,
    settings: DashboardSettings | None = None,
    transport: httpx.BaseTransport | None = None,
    url_base_pathname: str = "/",
    mounted_at: str | None = None,
    **overrides: Any,
) -> dash.Dash:
    """Build a dashboard reading from the service at ``api_url``.

    ``settings`` (or keyword ``overrides`` of its fields) tune refresh periods and display;
    ``transport`` replaces the HTTP transport (tests). Serving under a prefix: either
    ``url_base_pathname="/dashboard/"`` when the app itself sees the prefix, or
    ``mounted_at="/dashboard/"`` when a parent strips it (``app.server`` mounted as a WSGI app
    under FastAPI/Starlette: routes stay at ``/``, the browser's URLs carry the prefix).
    """
    if settings is None:
        settings = DashboardSettings(api_url=api_url or DashboardSettings.api_url, **overrides)
    elif api_url is not None or overrides:
        from dataclasses import replace

        settings = replace(settings, **({"api_url": api_url} if api_url else {}), **overrides)
    app = dash.Dash(
        "dashboard",
        assets_folder=str(ASSETS),
        title=settings.title,
        update_title=None,
        suppress_callback_exceptions=True,
        **(
            {"requests_pathname_prefix": mounted_at, "routes_pathname_prefix": "/"}
            if mounted_at
            else {"url_base_pathname": url_base_pathname}
        ),
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
    )
    api = ApiClient(settings.api_url, transport=transport, timeout=settings.timeout_s)
    ctx = AppContext(app=app, api=api, settings=settings, live=LiveCharts(settings))
    app.layout = _shell(ctx)
    _register_shell(ctx)
    for page in {id(m): m for m in PAGES.values()}.values():
        page.register(ctx)
    return app


def _shell(ctx: AppContext) -> html.Div:
    lang = ctx.settings.default_lang
    return html.Div(
        [
            dcc.Location(id="url", refresh="callback-nav"),
            dcc.Store(id="session", storage_type="session"),
            dcc.Store(id="lang", storage_type="session", data=lang),
            html.Header(
                [
                    dcc.Link(
                        [
                            html.Span("◢", className="brand-mark"),
                            html.Span(ctx.settings.title, className="brand-name"),
                            html.Span(
                                t(lang, "app.tagline"),
                                id="brand-tagline",
                                className="brand-tagline",
                            ),
                        ],
                        href=ctx.href("/"),
                        className="brand",
                    ),
                    html.Nav(id="nav", className="nav"),
                    html.Div(
                        [
                            html.Span(id="user-badge", className="user-badge"),
                            html.Button(
                                t(lang, "lang.switch"),
                                id="lang-toggle",
                                className="btn btn-ghost",
                                n_clicks=0,
                            ),
                            html.Button(
                                t(lang, "nav.logout"),
                                id="logout",
                                className="btn btn-ghost",
                                n_clicks=0,
                            ),
                        ],
                        className="topbar-right",
                    ),
                ],
                className="topbar",
                id="topbar",
            ),
            html.Main(id="page", className="page"),
        ],
        id="app-root",
        className="app",
    )


def _route(ctx: AppContext, pathname: str | None) -> tuple[str, list[str]]:
    parts = [p for p in ctx.strip(pathname).split("/") if p]
    if not parts:
        return "", []
    return parts[0], parts[1:]


def _register_shell(ctx: AppContext) -> None:
    app = ctx.app

    @app.callback(
        Output("page", "children"),
        Output("app-root", "className"),
        Input("url", "pathname"),
        Input("url", "search"),
        Input("session", "data"),
        Input("lang", "data"),
    )
    def render(
        pathname: str | None, search: str | None, session_data: Any, lang_value: str | None
    ) -> tuple[Any, str]:
        lang = ctx.lang(lang_value)
        session = Session.of(session_data)
        name, args = _route(ctx, pathname)
        query = {k: v[-1] for k, v in parse_qs((search or "").lstrip("?")).items()}
        page = PAGES.get(name)
        kiosk_mode = name == "kiosk" and bool(query.get("keys"))
        root_class = "app kiosk-mode" if kiosk_mode and session.signed_in else "app"
        if page is None:
            return html.Div(t(lang, "page.not_found"), className="msg msg-warn"), "app"
        if not session.signed_in:
            return login.layout(ctx, session, lang, args, query), "app app-login"
        if name == "login":
            name, page = "", overview
        if not roles.can(session.role, page.MINIMUM_ACTION):
            needed = roles.MINIMUM[page.MINIMUM_ACTION]
            return html.Div(
                t(lang, "page.forbidden", role=t(lang, f"role.{needed}")), className="msg msg-warn"
            ), "app"
        return page.layout(ctx, session, lang, args, query), root_class

    @app.callback(
        Output("nav", "children"),
        Output("user-badge", "children"),
        Output("lang-toggle", "children"),
        Output("logout", "children"),
        Output("logout", "style"),
        Output("brand-tagline", "children"),
        Input("url", "pathname"),
        Input("session", "data"),
        Input("lang", "data"),
    )
    def header(pathname: str | None, session_data: Any, lang_value: str | None) -> tuple[Any, ...]:
        lang = ctx.lang(lang_value)
        session = Session.of(session_data)
        current, _ = _route(ctx, pathname)
        if current == "chart":
            current = ""
        links = []
        if session.signed_in:
            for path, label, action in NAV:
                if roles.can(session.role, action):
                    links.append(
                        dcc.Link(
                            t(lang, label),
                            href=ctx.href(f"/{path}"),
                            className="nav-link active" if path == current else "nav-link",
                            id=f"nav-{path or 'overview'}",
                        )
                    )
        user = (
            [
                html.Span(session.name or "", className="user-name"),
                html.Span(t(lang, f"role.{session.role}"), className=f"role role-{session.role}"),
            ]
            if session.signed_in
            else []
        )
        hidden = {} if session.signed_in else {"display": "none"}
        return (
            links,
            user,
            t(lang, "lang.switch"),
            t(lang, "nav.logout"),
            hidden,
            t(lang, "app.tagline"),
        )

    @app.callback(
        Output("lang", "data"),
        Input("lang-toggle", "n_clicks"),
        State("lang", "data"),
        prevent_initial_call=True,
    )
    def switch_language(_: int, lang_value: str | None) -> str:
        return "en" if ctx.lang(lang_value) == "zh" else "zh"

    @app.callback(
        Output("session", "data", allow_duplicate=True),
        Output("url", "pathname", allow_duplicate=True),
        Input("logout", "n_clicks"),
        prevent_initial_call=True,
    )
    def logout(n_clicks: int) -> tuple[Any, str]:
        if not n_clicks:
            raise dash.exceptions.PreventUpdate
        return None, ctx.href("/")
