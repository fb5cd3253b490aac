"""The service's own errors; the API turns each into ``{"detail": ...}`` with its status.

ServiceError(status, detail, field)
├── NotFound   404
├── Conflict   409
└── Invalid    422, `field` names the offending request field
"""

from __future__ import annotations


class ServiceError(Exception):
    status = 400

    def __init__(self, detail: str, field: str | None = None, status: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        if status is not None:
            self.status = status


class NotFound(ServiceError):
    status = 404


class Conflict(ServiceError):
    status = 409


class Invalid(ServiceError):
    status = 422

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}", field)
