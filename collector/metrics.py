"""Prometheus metrics of one collector, in a registry of its own (no global state at import).

The counters answer an operator's questions: is data coming in (readings_in), is it reaching
the service (forwarded, buffer gauge), and what is lost and why (invalid, by reason; dropped
because the buffer was full; rejected by the service and kept as dead letters).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

PREFIX = "linewatch_collector"


class _SourceStats(Collector):
    """Exports each source's own `stats()` (e.g. Sparkplug sequence gaps) at scrape time."""

    def __init__(self, sources: Callable[[], Mapping[str, Mapping[str, float]]]) -> None:
        self._sources = sources

    def collect(self) -> Iterator[Any]:
        families: dict[str, GaugeMetricFamily] = {}
        for source, stats in self._sources().items():
            for key, value in stats.items():
                fam = families.get(key)
                if fam is None:
                    fam = families[key] = GaugeMetricFamily(
                        f"{PREFIX}_source_{key}", f"source statistic {key}", labels=["source"]
                    )
                fam.add_metric([source], float(value))
        yield from families.values()


class CollectorMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.readings_in = Counter(
            f"{PREFIX}_readings_in", "readings stored in the disk buffer", ["source"], registry=r
        )
        self.invalid = Counter(
            f"{PREFIX}_readings_invalid",
            "inputs dropped as invalid, by source and reason",
            ["source", "reason"],
            registry=r,
        )
        self.dropped = Counter(
            f"{PREFIX}_readings_dropped",
            "readings dropped by the buffer-full policy",
            ["reason"],
            registry=r,
        )
        self.forwarded = Counter(
            f"{PREFIX}_readings_forwarded",
            "readings the service acknowledged (accepted or already had)",
            registry=r,
        )
        self.duplicates = Counter(
            f"{PREFIX}_readings_duplicate", "readings the service already had", registry=r
        )
        self.rejected = Counter(
            f"{PREFIX}_readings_rejected",
            "readings the service rejected (kept as dead letters)",
            registry=r,
        )
        self.requests = Counter(
            f"{PREFIX}_sink_requests",
            "HTTP requests to the service by outcome",
            ["outcome"],
            registry=r,
        )
        self.buffered = Gauge(
            f"{PREFIX}_buffer_readings", "readings waiting in the buffer", registry=r
        )
        self.buffer_bytes = Gauge(f"{PREFIX}_buffer_bytes", "bytes used by the buffer", registry=r)
        self.dead_letters = Gauge(
            f"{PREFIX}_dead_letters", "readings in the dead-letter table", registry=r
        )

    def add_source_stats(self, sources: Callable[[], Mapping[str, Mapping[str, float]]]) -> None:
        self.registry.register(_SourceStats(sources))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
