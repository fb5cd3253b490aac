"""What every source plugin implements.

A source turns equipment signals into `SourceSample`s and hands them to `emit`; the collector
assigns (source, seq), writes them to the disk buffer, and only then lets the source acknowledge
upstream (MQTT PUBACK), so nothing is lost between the wire and the disk.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from collector.reading import Quality


@dataclass(frozen=True, slots=True)
class SourceSample:
    """One value read from equipment, before the collector numbers it."""

    characteristic: str
    ts: str
    value: float
    subgroup: str | None = None
    lot: str | None = None
    serial: str | None = None
    quality: Quality = "good"


Emit = Callable[[Sequence[SourceSample]], Awaitable[None]]
"""Awaits until the samples are durable in the buffer (or raises when the buffer is full)."""

Reject = Callable[[str, str], None]
"""Reports an input that could not be turned into samples: (reason, sample of the raw input)."""


class Source(Protocol):
    name: str

    async def run(self, emit: Emit, reject: Reject, stop: asyncio.Event) -> None:
        """Runs until `stop` is set, reconnecting by itself; never raises for bad input."""
        ...
