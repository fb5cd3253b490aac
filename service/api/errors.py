"""Errors as JSON ``{"detail": ...}``: 401, 403, 404, 409, 422 (naming the field), never a bare 500
page. Validation errors keep FastAPI's list under ``errors`` and put a one-line message naming
the field in ``detail``."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from service.errors import Conflict, Invalid, NotFound, ServiceError

log = logging.getLogger("linewatch.api")


def ApiError(status: int, detail: str, field: str | None = None) -> ServiceError:
    return ServiceError(detail, field, status)


def not_found(what: str) -> ServiceError:
    return NotFound(f"{what} not found")


def conflict(detail: str) -> ServiceError:
    return Conflict(detail)


def invalid(field: str, detail: str) -> ServiceError:
    return Invalid(field, detail)


def _loc(loc: Any) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def install(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def service_error(request: Request, exc: ServiceError) -> JSONResponse:
        body: dict[str, Any] = {"detail": exc.detail}
        if exc.field:
            body["field"] = exc.field
        return JSONResponse(body, status_code=exc.status)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        # jsonable_encoder with str() for anything else: a detail carrying exception objects
        # (pydantic's error "ctx") must not turn a 4xx into a 500.
        detail = jsonable_encoder(exc.detail, custom_encoder={BaseException: str})
        return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {"loc": ("body",), "msg": "invalid request"}
        field = _loc(first.get("loc", ()))
        safe = [
            {
                "loc": [str(p) for p in e.get("loc", ())],
                "msg": str(e.get("msg")),
                "type": e.get("type"),
            }
            for e in errors
        ]
        return JSONResponse(
            {"detail": f"{field}: {first.get('msg')}", "field": field, "errors": safe},
            status_code=422,
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "internal error"}, status_code=500)
