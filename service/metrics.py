"""Prometheus metrics, one registry per app (several apps in one test process never clash)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.measurements = Counter(
            "linewatch_measurements",
            "Ingested records by outcome (accepted, duplicate, rejected); "
            "rate() is the ingest rate",
            ["outcome"],
            registry=r,
        )
        self.ingest_seconds = Histogram(
            "linewatch_ingest_batch_seconds",
            "Time to validate, store and evaluate one ingest batch",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.evaluation_seconds = Histogram(
            "linewatch_evaluation_seconds",
            "Evaluation latency: from the start of a batch's transaction to its commit "
            "(points, violations, alarms stored)",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.violations = Counter("linewatch_violations", "Rule violations stored", registry=r)
        self.open_alarms = Gauge(
            "linewatch_open_alarms", "Alarms in state open (not yet acknowledged)", registry=r
        )
        self.stream_clients = Gauge(
            "linewatch_stream_clients", "Connected live-stream clients", registry=r
        )

    def watch_open_alarms(self, count: Callable[[], int]) -> None:
        """Read the open-alarm count from the database at scrape time (correct across replicas)."""
        self.open_alarms.set_function(lambda: float(count()))
