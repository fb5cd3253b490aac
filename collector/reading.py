"""The one record that flows from a source, through the disk buffer, to the HTTP sink.

Its fields are those of the service's ingest contract (POST /api/v1/measurements), plus the
quality flag that OPC UA status codes map to: bad readings are forwarded flagged, never dropped.
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
        """The JSON object of one record in the ingest contract (None fields left out)."""
        return {k: v for k, v in asdict(self).items() if v is not None}
