"""`create_app(settings) -> FastAPI`: the service, built when called, nothing at import.

Start-up (the lifespan) opens the store (migrations applied unless ``migrate_on_start`` is off),
applies ``linewatch.toml`` when present, builds the `service.context.Linewatch` held in
``app.state.linewatch``, then starts the lifespan hooks; `/health` answers 200 from then on.

Background workers plug in as lifespan hooks: a hook is a callable ``hook(app)`` returning an
async context manager, entered after the store is ready and exited before it closes; it finds
everything on ``app.state.linewatch`` (store, settings, alarm_hooks, metrics). Hooks come from
(1) the `lifespan_hooks` argument, (2) ``settings.lifespan_hooks`` ("module:attribute" strings),
(3) ``lifespan_hook`` of the parts in `PARTS_WITH_HOOKS` (service.alerting, service.quality)
when their package defines one, and (4) whatever is
appended to ``app.state.lifespan_hooks`` before the app starts. A hook that must act inside the
transaction of an alarm change appends an `service.alarms.AlarmHook` to
``app.state.linewatch.alarm_hooks``.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from service.settings import Settings

log = logging.getLogger("linewatch.service")

PARTS_WITH_HOOKS = ("service.alerting", "service.quality")
"""Parts whose package may define ``lifespan_hook(app)``; it is started with the app."""

LifespanHook = Callable[[FastAPI], AbstractAsyncContextManager[Any]]


def _hooks_from_settings(settings: Settings) -> list[LifespanHook]:
    hooks: list[LifespanHook] = []
    for spec in settings.lifespan_hooks:
        module_name, _, attribute = spec.partition(":")
        hooks.append(getattr(importlib.import_module(module_name), attribute or "lifespan_hook"))
    for part in PARTS_WITH_HOOKS:
        try:
            module = importlib.import_module(part)
        except ModuleNotFoundError as exc:
            if exc.name != part:
                raise
            continue
        hook = getattr(module, "lifespan_hook", None)
        if callable(hook) and hook not in hooks:
            hooks.append(hook)
    return hooks


def _start(app: FastAPI) -> Any:
    from service.config_file import apply_config
    from service.context import Linewatch
    from service.quality.config import apply_quality_file
    from service.storage import open_store

    settings: Settings = app.state.settings
    if settings.uses_default_secret:
        log.warning(
            "LINEWATCH_SECRET_KEY is the development default; set one before production use"
        )
    store = open_store(settings)
    try:
        from service.auth import ensure_bootstrap_tokens

        for name in ensure_bootstrap_tokens(store, settings):
            log.info("bootstrap token installed for user %s", name)
        ctx = Linewatch(settings, store)
        path = settings.config_file
        if path is not None and Path(path).is_file():
            applied = apply_config(store, Path(path))
            if applied.causes:
                ctx.cause_codes = applied.causes
            if applied.actions:
                ctx.action_codes = applied.actions
            if applied.strict_codes is not None:
                ctx.strict_codes = applied.strict_codes
            log.info(
                "configuration applied from %s: %d created, %d updated",
                path,
                len(applied.created),
                len(applied.updated),
            )
            quality = apply_quality_file(store, Path(path))
            if quality.created or quality.updated:
                log.info(
                    "quality configuration: %d created, %d updated",
                    len(quality.created),
                    len(quality.updated),
                )
    except BaseException:
        store.close()
        raise
    return ctx


def _warm(ctx: Any) -> None:
    """Monitors into memory in the background: /health is up at once, and the first batches
    after a restart find their monitors loaded (service.evaluation.engine.Evaluator.warm)."""
    started = time.monotonic()
    try:
        with ctx.store.transaction(readonly=True) as tx:
            loaded = ctx.evaluator.warm(tx)
    except Exception as exc:  # e.g. the service stopping meanwhile
        log.warning("monitors not loaded at start (ingest loads them on first use): %s", exc)
        return
    log.info("monitors loaded: %d in %.2f s", loaded, time.monotonic() - started)


def _stop(ctx: Any) -> None:
    try:
        ctx.checkpoint_all()
    except Exception:
        log.exception("checkpoint at shutdown failed (the next start replays instead)")
    ctx.store.close()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    ctx = await run_in_threadpool(_start, app)
    app.state.linewatch = ctx
    try:
        async with AsyncExitStack() as stack:
            for hook in list(app.state.lifespan_hooks):
                await stack.enter_async_context(hook(app))
            app.state.ready = True
            warming = asyncio.create_task(run_in_threadpool(_warm, ctx))
            yield
            warming.cancel()
            app.state.ready = False
    finally:
        await run_in_threadpool(_stop, ctx)
        app.state.linewatch = None


def create_app(
    settings: Settings | None = None, *, lifespan_hooks: Sequence[LifespanHook] = ()
) -> FastAPI:
    """The Linewatch service as an ASGI app (start it with uvicorn or `linewatch serve`)."""
    from service.api import errors
    from service.api.routes import routers

    settings = settings or Settings()
    app = FastAPI(
        title="Linewatch",
        version="0.1.0",
        summary="Real-time SPC: ingest, control limits, rule violations, alarms",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.linewatch = None
    app.state.ready = False
    app.state.lifespan_hooks = [*lifespan_hooks, *_hooks_from_settings(settings)]
    errors.install(app)
    for router in routers():
        app.include_router(router)
    return app
