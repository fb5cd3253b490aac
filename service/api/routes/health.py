"""`/health` (no token: 200 once the database is reachable) and `/metrics` (Prometheus)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

router = APIRouter(tags=["health"])


@router.get("/health", summary="Ready: 200 once the service can serve requests")
def health(request: Request) -> JSONResponse:
    ctx = getattr(request.app.state, "linewatch", None)
    if ctx is None or not getattr(request.app.state, "ready", False):
        return JSONResponse({"status": "starting"}, status_code=503)
    try:
        with ctx.store.transaction(readonly=True) as tx:
            tx.scalar("SELECT 1")
    except Exception:
        return JSONResponse({"status": "database unavailable"}, status_code=503)
    return JSONResponse(
        {"status": "ok", "database": ctx.store.dialect, "timescaledb": ctx.store.db.timescale}
    )


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(request: Request) -> Response:
    ctx = getattr(request.app.state, "linewatch", None)
    if ctx is None:
        return Response("", status_code=503)
    return Response(generate_latest(ctx.metrics.registry), media_type=CONTENT_TYPE_LATEST)
