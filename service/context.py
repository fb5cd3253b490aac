"""Everything one running service holds, built once per app (``app.state.linewatch``).

Background workers (the alerting part's outbox consumer, for instance) get this object: it has
the `Store` (database + repository), the settings, the alarm hooks list and the metrics.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from service import ingest_fast
from service.alarms import AlarmBook, AlarmHook
from service.auth import Authenticator
from service.domain import Characteristic
from service.evaluation.engine import EvaluatedPoint, Evaluator
from service.ingest import IngestResult, IngestService
from service.limits import auto_limits
from service.metrics import Metrics
from service.settings import Settings
from service.storage.repository import Store
from service.stream import Broker


@dataclass
class Linewatch:
    settings: Settings
    store: Store
    metrics: Metrics = field(default_factory=Metrics)
    broker: Broker = field(default_factory=Broker)
    alarm_hooks: list[AlarmHook] = field(default_factory=list)
    cause_codes: list[str] = field(default_factory=list)
    action_codes: list[str] = field(default_factory=list)
    strict_codes: bool | None = None

    def __post_init__(self) -> None:
        s = self.settings
        self.cause_codes = self.cause_codes or list(s.cause_codes)
        self.action_codes = self.action_codes or list(s.action_codes)
        if self.strict_codes is None:
            self.strict_codes = s.strict_alarm_codes
        self.auth = Authenticator(self.store, s.secret_key.get_secret_value())
        self.evaluator = Evaluator(
            self.store.repo, checkpoint_every=s.checkpoint_every, cache_size=s.monitor_cache_size
        )
        self.alarms = AlarmBook(self.store.repo, self.alarm_hooks)
        self.ingest_service = IngestService(
            self.store,
            self.evaluator,
            self.alarms,
            s,
            on_commit=self._published,
            want_points=lambda: self.broker.active,
            auto_limits=lambda tx, char: auto_limits(tx, self.store.repo, char),
            on_evaluated=self.metrics.evaluation_seconds.observe,
        )
        self.metrics.watch_open_alarms(self._open_alarms)
        self.metrics.stream_clients.set_function(lambda: float(self.broker.count()))

    def ingest_body(
        self,
        parse: Callable[[], list[Any]],
        typed: Callable[[], list[ingest_fast.Record] | None] | None = None,
    ) -> IngestResult:
        """`ingest` of a request body still to be parsed: the request announces itself first,
        so that a group commit leader can wait for it (`service.group_commit`). `typed` is the
        fast way to read the same body (`service.ingest_fast`), tried first."""
        committer = self.ingest_service.committer
        committer.announce()
        try:
            with self.ingest_service.parsing:
                records: Any = typed() if typed is not None else None
        except BaseException:
            committer.withdraw()
            raise
        if records is not None:  # ingest_typed withdraws the announcement if it fails
            started = time.perf_counter()
            result = self.ingest_service.ingest_typed(records, announced=True)
            if result is not None:
                return self._count(result, started)
        try:
            with self.ingest_service.parsing:
                records = parse()
        except BaseException:
            committer.withdraw()
            raise
        return self.ingest(records, announced=True)

    def ingest(self, records: list[Any], *, announced: bool = False) -> IngestResult:
        started = time.perf_counter()
        return self._count(self.ingest_service.ingest(records, announced=announced), started)

    def _count(self, result: IngestResult, started: float) -> IngestResult:
        elapsed = time.perf_counter() - started
        m = self.metrics
        m.measurements.labels("accepted").inc(result.accepted)
        m.measurements.labels("duplicate").inc(result.duplicates)
        m.measurements.labels("rejected").inc(len(result.rejected))
        if result.violations:
            m.violations.inc(result.violations)
        m.ingest_seconds.observe(elapsed)
        return result

    def checkpoint_all(self) -> None:
        """Write the state of every cached monitor (graceful shutdown: no replay on restart)."""
        evaluator, repo = self.evaluator, self.store.repo
        with evaluator._lock:
            states = [s for s in evaluator._cache.values() if s.monitor is not None]
        if not states:
            return
        with self.store.transaction() as tx:
            cids = [s.characteristic_id for s in states]
            from service.evaluation.engine import lock_characteristics

            lock_characteristics(tx, cids)
            heads = repo.heads(tx, cids)
            fresh = [
                (s.characteristic_id, s.head_id, s.snapshot())
                for s in states
                if (h := heads.get(s.characteristic_id)) is not None
                and h.head_id == s.head_id
                and h.limit_version == s.limit_version
                and s.since_checkpoint > 0
            ]
            repo.save_checkpoints(tx, fresh)

    def _open_alarms(self) -> int:
        with self.store.transaction(readonly=True) as tx:
            return self.store.repo.count_active_alarms(tx)

    def _published(
        self,
        points: list[EvaluatedPoint],
        events: list[dict[str, Any]],
        chars: dict[int, Characteristic],
    ) -> None:
        broker = self.broker
        for p in points:
            key = chars[p.characteristic_id].key
            if broker.wants(key):
                broker.publish(
                    key,
                    "point",
                    {
                        "characteristic": key,
                        "ts": p.ts.isoformat(),
                        "limit_version": p.limit_version,
                        "point_no": p.point_no,
                        "stat": p.stat,
                        "lcl": p.lcl,
                        "ucl": p.ucl,
                        "violations": p.violations,
                        "value": p.value,
                    },
                )
        for event in events:
            broker.publish(event["characteristic"]["key"], "alarm", event)
