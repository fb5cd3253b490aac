"""Live push: `GET /api/v1/stream?characteristic=KEY`, Server-Sent Events `point` and `alarm`.

Browsers' EventSource cannot set headers, so the token may also come as ``?token=``.
A `lagged` event means the client fell behind and should reload the chart.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials
from starlette.concurrency import run_in_threadpool

from service.api.deps import Ctx, authenticate, bearer
from service.api.errors import not_found
from service.stream import sse

router = APIRouter(prefix="/api/v1", tags=["stream"])
HEARTBEAT_SECONDS = 15.0


@router.get(
    "/stream",
    summary="Server-Sent Events: new points and alarms",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def stream(
    request: Request,
    ctx: Ctx,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    characteristic: Annotated[str | None, Query(description="Omit for all")] = None,
    token: Annotated[
        str | None, Query(description="For EventSource, which sends no headers")
    ] = None,
) -> StreamingResponse:
    given = credentials.credentials if credentials else token
    await run_in_threadpool(authenticate, ctx, given)
    if characteristic is not None:

        def exists() -> bool:
            with ctx.store.transaction(readonly=True) as tx:
                return ctx.store.repo.get_characteristic(tx, characteristic) is not None

        if not await run_in_threadpool(exists):
            raise not_found(f"characteristic {characteristic!r}")
    sub = ctx.broker.subscribe(characteristic)

    async def events() -> AsyncIterator[bytes]:
        try:
            yield b": connected\n\n"
            while True:
                if sub.lagged:
                    sub.lagged = False
                    yield sse("lagged", "{}")
                try:
                    event, data = await asyncio.wait_for(sub.queue.get(), HEARTBEAT_SECONDS)
                except TimeoutError:
                    if await request.is_disconnected():
                        return
                    yield b": ping\n\n"
                    continue
                yield sse(event, data)
        finally:
            ctx.broker.unsubscribe(sub)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
