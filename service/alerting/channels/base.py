"""The channel contract and the result of one delivery attempt.

A channel never raises for a delivery problem: it returns a `DeliveryResult` that says whether
retrying can help (a timeout, a 5xx, a vendor's "too many requests") or not (a 4xx, a bad
signature), so that the worker's retry policy lives in one place.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from service.alerting.message import AlarmMessage


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    ok: bool
    retryable: bool = False
    status_code: int | None = None
    detail: str = ""
    duration_ms: float = 0.0

    @classmethod
    def success(
        cls, status_code: int | None = None, detail: str = "", started: float = 0.0
    ) -> DeliveryResult:
        return cls(True, False, status_code, detail, _ms_since(started))

    @classmethod
    def failure(
        cls,
        detail: str,
        *,
        retryable: bool,
        status_code: int | None = None,
        started: float = 0.0,
    ) -> DeliveryResult:
        return cls(False, retryable, status_code, detail[:500], _ms_since(started))


@runtime_checkable
class Channel(Protocol):
    name: str
    kind: str

    async def send(self, message: AlarmMessage) -> DeliveryResult: ...

    async def aclose(self) -> None: ...


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0 if started else 0.0


def retryable_status(status: int) -> bool:
    """5xx, 408 and 429 are worth retrying; other 4xx mean our request is wrong."""
    return status >= 500 or status in (408, 425, 429)


def redact(text: str, *secrets: str | None) -> str:
    """Remove secrets (webhook tokens, passwords) from an error text before it is logged/stored."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text
