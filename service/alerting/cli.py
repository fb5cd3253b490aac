"""`linewatch alert ...`: send a test message through a channel; run the worker on its own.

Heavy imports (httpx, pydantic, the worker) happen inside the commands so that `linewatch`
starts fast.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

CONFIG_HELP = "linewatch.toml with an [alerting] section"
CONFIG_ENVVARS = ["LINEWATCH_ALERTING_CONFIG", "LINEWATCH_CONFIG_FILE"]


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _config(path: Path):  # type: ignore[no-untyped-def]
    from pydantic import ValidationError

    from service.alerting.config import load_alerting

    if not path.exists():
        raise _fail(f"config file {path} not found")
    try:
        return load_alerting(str(path))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise _fail(f"{path}: [alerting] {where}: {first['msg']}") from None
    except Exception as exc:  # TOML syntax
        raise _fail(f"{path}: {exc}") from None


def alert_test(
    channel: Annotated[str, typer.Option("--channel", help="channel name in [alerting.channels]")],
    config: Annotated[
        Path, typer.Option("--config", help=CONFIG_HELP, envvar=CONFIG_ENVVARS)
    ] = Path("linewatch.toml"),
    language: Annotated[str | None, typer.Option("--lang", help="en or zh")] = None,
) -> None:
    """Send a test message through one channel and say whether it arrived."""
    import asyncio
    from dataclasses import replace
    from datetime import UTC, datetime

    import httpx

    from service.alerting.channels.base import DeliveryResult
    from service.alerting.channels.factory import MissingSecretError, build_channel
    from service.alerting.message import AlarmMessage

    cfg = _config(config)
    if channel not in cfg.channels:
        known = ", ".join(sorted(cfg.channels)) or "none"
        raise _fail(f"unknown channel {channel!r} (configured: {known})")
    if language not in (None, "en", "zh"):
        raise _fail("--lang must be en or zh")
    channel_cfg = cfg.channels[channel]
    if language:
        channel_cfg = channel_cfg.model_copy(update={"language": language})
    message = AlarmMessage(
        kind="test",
        event="test",
        characteristic="linewatch.test",
        ts=datetime.now(UTC),
        chart_url=cfg.public_url,
        note=channel,
        severity="info",
    )

    async def send() -> DeliveryResult:
        async with httpx.AsyncClient() as client:
            built = build_channel(
                channel,
                channel_cfg,
                http_client=client,
                language=cfg.language,
                timezone=cfg.timezone,
            )
            try:
                return await built.send(replace(message, delivery_id=f"test-{os.getpid()}"))
            finally:
                await built.aclose()

    try:
        result = asyncio.run(send())
    except MissingSecretError as exc:
        raise _fail(str(exc)) from None
    if result.ok:
        typer.echo(f"sent via {channel} in {result.duration_ms:.0f} ms")
        return
    typer.echo(f"error: {channel}: {result.detail}", err=True)
    raise typer.Exit(1)


def alert_worker(
    database_url: Annotated[
        str | None, typer.Option("--database-url", envvar="LINEWATCH_DATABASE_URL")
    ] = None,
    config: Annotated[
        Path, typer.Option("--config", help=CONFIG_HELP, envvar=CONFIG_ENVVARS)
    ] = Path("linewatch.toml"),
) -> None:
    """Run the notification worker on its own (the service runs one in-process as well)."""
    import asyncio
    import logging
    import signal

    import httpx

    from service.alerting.channels.factory import MissingSecretError, build_channels
    from service.alerting.worker import AlertWorker
    from service.storage.db import connect
    from service.storage.migrations import migrate

    cfg = _config(config)
    url = database_url or f"sqlite:///{Path.cwd() / 'linewatch.db'}"
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    db = connect(url)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with httpx.AsyncClient() as client:
            channels = build_channels(cfg, http_client=client)
            await AlertWorker(db, cfg, channels).run(stop)

    try:
        migrate(db)
        asyncio.run(main())
    except MissingSecretError as exc:
        raise _fail(str(exc)) from None
    finally:
        db.close()


def register(app: typer.Typer) -> None:
    alert = typer.Typer(help="Out-of-control notifications.", no_args_is_help=True)
    alert.command("test")(alert_test)
    alert.command("worker")(alert_worker)
    app.add_typer(alert, name="alert")
