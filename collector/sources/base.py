"""What every source plugin implements.

A source turns equipment signals into `SourceSample`s and hands them to `emit`; the collector
assigns (source, seq), writes them to the disk buffer, and only then lets the source acknowledge
upstream (MQTT PUBACK), so nothing is lost between the wire and the disk.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from collector.reading import Quality

if TYPE_CHECKING:
    from collector.config import CounterConfig


@dataclass(slots=True)
class SourceSample:
    """One value read from equipment, before the collector numbers it.

    Treat it as immutable. Not `frozen`: a frozen dataclass is five times slower to create,
    and one is created per reading on the hot path.
    """

    characteristic: str
    ts: str
    value: float
    subgroup: str | None = None
    lot: str | None = None
    serial: str | None = None
    quality: Quality = "good"
    counter: CounterConfig | None = None
    """Set: `value` is a piece counter reading; the buffer turns its rises into counter events."""


class BufferFull(Exception):
    """Raised by `emit` when the disk buffer is full and its policy is "stop-acknowledging".

    Nothing of the batch was stored: a source that can hold its input upstream (MQTT: do not
    acknowledge) retries later; one that cannot (OPC UA) counts the samples as dropped.
    """


class Emit(Protocol):
    async def __call__(
        self,
        samples: Sequence[SourceSample],
        /,
        *,
        receipts: Sequence[tuple[int, int]] = (),
    ) -> None:
        """Returns once the samples are durable in the buffer; raises BufferFull.

        `receipts` are opaque (int, int) pairs the source wants stored in the same transaction
        (MQTT: packet id and payload digest, to recognise a redelivery after a crash); see
        `RestoresReceipts`.
        """
        ...


class Reject(Protocol):
    def __call__(self, reason: str, sample: str, /) -> None:
        """Reports an input that could not be turned into samples.

        `reason` is "kind: detail" with a short, fixed kind ("malformed-json", "wrong-type",
        "missing-field", "bad-timestamp", "sparkplug-decode", ...): the kind labels the
        dropped-as-invalid counter, the whole reason and `sample` (the raw input, truncated)
        are logged once per kind and source.
        """
        ...


class Source(Protocol):
    name: str

    async def run(self, emit: Emit, reject: Reject, stop: asyncio.Event) -> None:
        """Runs until `stop` is set, reconnecting by itself; never raises for bad input."""
        ...


@runtime_checkable
class RestoresReceipts(Protocol):
    """A source that stores receipts with its samples gets them back before `run` (oldest first)."""

    def restore_receipts(self, receipts: Sequence[tuple[int, int]]) -> None: ...
