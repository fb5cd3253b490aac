"""``linewatch dashboard``: serve the Dash dashboard against a running Linewatch service.

Module-level imports are stdlib and typer only, so that ``linewatch --help`` and
``linewatch chart`` do not pay for importing Dash and Plotly.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer


def _fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    raise typer.Exit(code=2)


def register(app: typer.Typer) -> None:
    @app.command("dashboard")
    def dashboard(
        api_url: Annotated[
            str,
            typer.Option(
                "--api-url", envvar="LINEWATCH_API_URL", help="Base URL of the Linewatch service."
            ),
        ] = "http://127.0.0.1:8000",
        host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="Port to listen on.")] = 8050,
        timezone: Annotated[
            str | None,
            typer.Option(help="IANA zone for displayed times (default: this host's zone)."),
        ] = None,
        lang: Annotated[str, typer.Option(help="Default language: en or zh.")] = "en",
        refresh_ms: Annotated[
            int, typer.Option("--refresh-ms", help="Live-update poll of the chart page, in ms.")
        ] = 1000,
        debug: Annotated[bool, typer.Option(help="Dash debug mode (development only).")] = False,
    ) -> None:
        """Serve the dashboard (Plotly Dash) reading from the service API."""
        if not 0 < port < 65536:
            _fail(f"--port must be between 1 and 65535, got {port}")
        from dashboard.settings import DashboardSettings

        try:
            settings = DashboardSettings(
                api_url=api_url, timezone=timezone, default_lang=lang, chart_refresh_ms=refresh_ms
            )
        except ValueError as exc:
            _fail(str(exc))
            return
        except KeyError as exc:  # ZoneInfoNotFoundError is a KeyError
            _fail(f"--timezone: {exc.args[0] if exc.args else exc}")
            return
        from dashboard.app import create_app

        web = create_app(settings=settings)
        print(
            f"Linewatch dashboard on http://{host}:{port}/ (service {settings.api_url})",
            file=sys.stderr,
        )
        web.run(host=host, port=port, debug=debug)
