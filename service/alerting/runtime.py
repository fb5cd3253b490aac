"""Alerting inside the running service: config from linewatch.toml, channels, the worker task.

`alerting_lifespan(ctx)` is what the service app enters at start-up (see the report for the
lines in service/app.py). It also registers an alarm hook that wakes the worker right after an
alarm's transaction commits, so a notification does not wait for the next poll.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from service.alerting.config import AlertingConfig, parse_alerting

log = logging.getLogger("linewatch.alerting")

CONFIG_ENV = "LINEWATCH_ALERTING_CONFIG"


def load_config(config_file: str | Path | None) -> AlertingConfig:
    """`[alerting]` of linewatch.toml (`LINEWATCH_ALERTING_CONFIG` names another file);
    no file or no section means alerting without channels."""
    import tomllib

    path = os.environ.get(CONFIG_ENV) or config_file
    if path is None or not Path(path).exists():
        return parse_alerting(None)
    with open(path, "rb") as fh:
        return parse_alerting(tomllib.load(fh).get("alerting"))


class Alerting:
    """The worker and its channels for one service (``app.state.alerting``)."""

    def __init__(self, store: Any, config: AlertingConfig, worker: Any, client: Any) -> None:
        self.store = store
        self.config = config
        self.worker = worker
        self.client = client

    def alarm_hook(self, tx: Any, event: str, alarm_id: int, payload: dict[str, Any]) -> None:
        """Registered in the service's alarm hooks: wake the worker once the alarm commits.
        Repeats (`alarm.hit`) only feed digests and wait for the next poll."""
        if event != "alarm.hit":
            tx.after_commit(self.worker.wake)


@asynccontextmanager
async def alerting_lifespan(
    ctx: Any, *, environ: Mapping[str, str] | None = None
) -> AsyncIterator[Alerting | None]:
    """Run the notification worker for the service context `ctx` (`service.context.Linewatch`)."""
    import httpx

    from service.alerting.channels.factory import build_channels
    from service.alerting.worker import AlertWorker

    config = load_config(getattr(ctx.settings, "config_file", None))
    if not config.enabled:
        log.info("alerting disabled in configuration")
        yield None
        return
    async with httpx.AsyncClient(
        limits=httpx.Limits(max_connections=50, max_keepalive_connections=10),
        headers={"User-Agent": "Linewatch-Alerting/1"},
    ) as client:
        channels = build_channels(config, http_client=client, environ=environ)
        worker = AlertWorker(ctx.store.db, config, channels)
        alerting = Alerting(ctx.store, config, worker, client)
        ctx.alarm_hooks.append(alerting.alarm_hook)
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop), name="linewatch-alerting")
        try:
            yield alerting
        finally:
            stop.set()
            worker.wake()
            try:
                await asyncio.wait_for(task, timeout=10.0)
            except (TimeoutError, asyncio.CancelledError):
                task.cancel()
            if alerting.alarm_hook in ctx.alarm_hooks:
                ctx.alarm_hooks.remove(alerting.alarm_hook)
            for channel in channels.values():
                await channel.aclose()
