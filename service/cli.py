"""Service commands for the `linewatch` CLI: ``serve``, ``token create``, ``db upgrade``,
``import``. `register(app)` adds them; module-level imports are stdlib and typer only, so that
other commands start fast (FastAPI, psycopg, uvicorn load inside the command functions).

Bad input prints one line on stderr and exits with code 2; `token create` prints the token
alone on stdout (logs go to stderr), so ``TOKEN=$(linewatch token create ...)`` works.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

ROLES = ("operator", "engineer", "manager", "admin")

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="postgresql://... or sqlite:///path (default: $LINEWATCH_DATABASE_URL, "
        "else SQLite ./linewatch.db)",
        show_default=False,
    ),
]


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _settings(database_url: str | None, **overrides: Any) -> Any:
    from pydantic import ValidationError

    from service.settings import Settings

    if database_url is not None:
        overrides["database_url"] = database_url
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise _fail(f"settings: {first['msg']}") from None
    url = settings.resolved_database_url
    if not (url.startswith(("postgresql://", "postgres://", "sqlite:///"))):
        raise _fail(
            f"unsupported database URL {url.split(':', 1)[0]!r}: use postgresql:// or sqlite:///"
        )
    return settings


def _logging(level: str = "info") -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    for noisy in ("psycopg.pool", "httpx", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _tune_gc() -> None:
    """Fewer, later cyclic collections for the long-running service.

    An ingest batch of 1,000 records allocates some 20,000 objects, so CPython's default
    threshold (700) starts a collection every few dozen records and a full one, walking every
    cached monitor, several times a second; those pauses land inside the serialized ingest
    transaction. Measured with bench/bench_ingest.py: 21.7k → 28k measurements/s. Objects
    alive at start (imports, app) are frozen out of collections altogether.
    """
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 1000)


def _open(settings: Any) -> Any:
    from service.storage import open_store

    try:
        return open_store(settings)
    except Exception as exc:
        raise _fail(
            f"database: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}", 1
        ) from None


def register(app: typer.Typer) -> None:
    token_app = typer.Typer(help="API tokens.", no_args_is_help=True)
    db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
    app.add_typer(token_app, name="token")
    app.add_typer(db_app, name="db")

    @app.command()
    def serve(
        host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="TCP port")] = 8000,
        database_url: DatabaseUrl = None,
    ) -> None:
        """Run the service (HTTP API, ingest, evaluation, alarms)."""
        if not 0 < port < 65536:
            raise _fail("--port must be between 1 and 65535")
        settings = _settings(database_url)
        _logging(settings.log_level)
        import uvicorn

        from service.app import create_app
        from service.config_file import ConfigError, read_config

        if settings.config_file is not None and settings.config_file.is_file():
            try:
                read_config(settings.config_file)
            except ConfigError as exc:
                raise _fail(str(exc)) from None

        app = create_app(settings)
        _tune_gc()
        uvicorn.run(
            app,
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=10,
        )

    @token_app.command("create")
    def token_create(
        role: Annotated[str, typer.Option(help="operator, engineer, manager or admin")],
        name: Annotated[str, typer.Option(help="User the token belongs to")],
        database_url: DatabaseUrl = None,
    ) -> None:
        """Create a token and print it (alone) on stdout."""
        if role not in ROLES:
            raise _fail(f"--role must be one of {', '.join(ROLES)}, got {role!r}")
        if not name.strip():
            raise _fail("--name must not be empty")
        settings = _settings(database_url)
        _logging("warning")
        from service.auth import issue_token

        store = _open(settings)
        try:
            token = issue_token(
                store, settings.secret_key.get_secret_value(), role=role, name=name.strip()
            )
        finally:
            store.close()
        typer.echo(token)

    @db_app.command("upgrade")
    def db_upgrade(database_url: DatabaseUrl = None) -> None:
        """Apply pending migrations (also done at every service start)."""
        settings = _settings(database_url, migrate_on_start=False)
        _logging("warning")
        from service.storage.migrations import MigrationError, migrate

        store = _open(settings)
        try:
            applied = migrate(store.db)
            from service.storage.timescale import ensure_timescale

            ensure_timescale(store.db, settings)
        except MigrationError as exc:
            raise _fail(str(exc), 1) from None
        finally:
            store.close()
        for m in applied:
            typer.echo(f"applied {m.version:04d}_{m.name}")
        if not applied:
            typer.echo("up to date")

    @app.command("import")
    def import_csv(
        file: Annotated[Path, typer.Argument(help="CSV: characteristic, ts, value[, lot, ...]")],
        url: Annotated[str | None, typer.Option(help="Service URL (with --token)")] = None,
        token: Annotated[str | None, typer.Option(help="Bearer token for --url")] = None,
        database_url: DatabaseUrl = None,
        characteristic: Annotated[
            str | None, typer.Option(help="Characteristic for a CSV without that column")
        ] = None,
        batch: Annotated[int, typer.Option(help="Records per request")] = 5000,
    ) -> None:
        """Backfill measurements from a CSV file, through the service or into the database."""
        if not file.is_file():
            raise _fail(f"{file}: no such file")
        if batch < 1:
            raise _fail("--batch must be positive")
        if url is not None and token is None:
            raise _fail("--url needs --token")
        from service.importer import run_import

        try:
            totals = run_import(
                file,
                url=url,
                token=token,
                settings=None if url else _settings(database_url),
                characteristic=characteristic,
                batch=batch,
            )
        except ValueError as exc:
            raise _fail(str(exc)) from None
        except RuntimeError as exc:
            raise _fail(str(exc), 1) from None
        typer.echo(
            f"accepted {totals['accepted']}, duplicates {totals['duplicates']}, "
            f"rejected {totals['rejected']}"
        )
