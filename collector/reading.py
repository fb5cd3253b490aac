"""The one record that flows from a source, through the disk buffer, to the HTTP sink.

Its fields are those of the service's ingest contract (POST /api/v1/measurements), plus the
quality flag that OPC UA status codes map to: bad readings are forwarded flagged, never dropped.
The sink encodes buffer rows straight to this JSON shape (`collector.sink.encode_batch`, kept
equal to `Reading.to_ingest` by a test) without building a `Reading` per row, for speed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Quality = Literal["good", "uncertain", "bad"]


@dataclass(frozen=True, slots=True)
class Reading:
    characteristic: str
    ts: str  # ISO 8601 with zone, e.g. "2026-11-26T10:00:00.123Z"
    value: float
    source: str
    seq: int
    subgroup: str | None = None
    lot: str | None = None
    serial: str | None = None
    quality: Quality = "good"

    def to_ingest(self) -> dict[str, Any]:
        """The JSON object of one record in the ingest contract.

        None fields are left out, and so is quality "good" (the service's default), so that a
        service that does not know the quality field still accepts every good reading.
        """
        return {
            k: v
            for k, v in asdict(self).items()
            if v is not None and not (k == "quality" and v == "good")
        }
