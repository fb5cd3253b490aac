"""Sign in with an API token. The token is checked against the service (``/api/v1/me``) and
kept in the browser's session storage only: closing the tab signs out."""

from __future__ import annotations

from typing import Any

from dash import Input, Output, State, dcc, html, no_update

from dashboard.api import ApiError, AuthError
from dashboard.components import error_message, message
from dashboard.context import AppContext, Session
from dashboard.i18n import t

MINIMUM_ACTION = "view"


def layout(
    ctx: AppContext, session: Session, lang: str, args: list[str], query: dict[str, str]
) -> Any:
    return html.Div(
        html.Div(
            [
                html.Div(
                    [html.Span("◢", className="brand-mark big"), html.H1(ctx.settings.title)],
                    className="login-brand",
                ),
                html.P(t(lang, "app.tagline"), className="login-tagline"),
                html.H2(t(lang, "login.title")),
                html.P(help_text(lang), className="muted"),
                html.Label(t(lang, "login.token"), htmlFor="login-token"),
                dcc.Input(
                    id="login-token",
                    type="password",
                    className="input",
                    autoComplete="off",
                    debounce=False,
                    n_submit=0,
                ),
                html.Button(
                    t(lang, "login.submit"),
                    id="login-submit",
                    className="btn btn-primary btn-block",
                    n_clicks=0,
                ),
                html.Div(id="login-message"),
            ],
            className="login-card",
        ),
        className="login-page",
    )


def help_text(lang: str) -> list[Any]:
    """The help sentence with the command set as code."""
    before, _, after = t(lang, "login.help", command="\0").partition("\0")
    return [before, html.Code("linewatch token create"), after]


def register(ctx: AppContext) -> None:
    @ctx.app.callback(
        Output("session", "data", allow_duplicate=True),
        Output("login-message", "children"),
        Input("login-submit", "n_clicks"),
        Input("login-token", "n_submit"),
        State("login-token", "value"),
        State("lang", "data"),
        State("url", "pathname"),
        prevent_initial_call=True,
    )
    def sign_in(
        clicks: int, submits: int, token: str | None, lang_value: str | None, pathname: str | None
    ) -> tuple[Any, Any]:
        lang = ctx.lang(lang_value)
        if not (clicks or submits):
            return no_update, no_update
        token = (token or "").strip()
        if not token:
            return no_update, message(t(lang, "login.empty"), "warn")
        try:
            me = ctx.api.with_token(token).me()
        except AuthError:
            return no_update, message(t(lang, "login.bad_token"), "error")
        except ApiError as exc:
            return no_update, error_message(exc, lang)
        return {"token": token, "name": me.get("name"), "role": me.get("role")}, no_update
