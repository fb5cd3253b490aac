"""Evaluation of accepted measurements, in arrival order, by one `spc.Monitor` per characteristic.

Ownership and order. The ingest transaction first takes the locks of the characteristics it
touches (PostgreSQL advisory locks, one per stripe of characteristic ids, ARCHITECTURE
"Scaling"; on SQLite the single write transaction) and only then allocates measurement ids.
Hence, per characteristic, ids grow in commit order, and "arrival order" is simply id order,
across replicas too.

State that survives a restart. ``monitor_state`` holds per characteristic the limit version
being judged against and a checkpoint: the monitor's and subgroup former's state as of
``checkpoint_id``, written every `checkpoint_every` points; ``monitor_heads`` holds its
``head_id``, the last measurement evaluated (updated in every ingest transaction, so kept apart
from the wide checkpoint row). Rebuilding a monitor = load the
checkpoint and replay the measurements in (checkpoint_id, head_id] of that limit version; the
replay reproduces the state exactly (the monitor is deterministic) and emits nothing, because
those points' violations committed together with them. A SIGKILL therefore loses no run and
duplicates no violation. The in-process cache is used only while its `head_id` equals the
database's, so another replica's (or the CLI importer's) writes are never missed; any failure
inside a transaction drops the touched cache entries.

A characteristic without approved limits is not evaluated (its points are stored with
``limit_version`` NULL, the chart shows them rule-free) until limits are approved, or computed
and approved automatically after `auto_limits_after` subgroups (service.limits).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from service.domain import ATTRIBUTE_CHARTS, Characteristic, LimitVersion, Measurement, Violation
from service.evaluation.former import Subgroup, SubgroupFormer
from service.storage.db import Tx
from service.storage.repo_measurements import Head
from service.storage.repository import Repository
from spc import PointResult
from spc.together import flagged_together, update_together

log = logging.getLogger("linewatch.evaluation")

LOCK_NAMESPACE = 0x4C570001
LOCK_STRIPES = 64
"""Characteristics share 64 advisory locks (id modulo 64): a batch over a thousand
characteristics takes 64 locks, not a thousand (each costs PostgreSQL a lock-table entry),
and two writers still never judge one characteristic at once."""


def lock_characteristics(tx: Tx, characteristic_ids: Iterable[int]) -> None:
    """Evaluation ownership of these characteristics until the transaction ends."""
    tx.lock_keys(LOCK_NAMESPACE, sorted({cid % LOCK_STRIPES for cid in characteristic_ids}))


DISPERSION = "dispersion:"  # advisory lock namespace: evaluation ownership per characteristic


@dataclass
class CharState:
    """The live evaluation state of one characteristic (cached between requests)."""

    characteristic_id: int
    limit_version: int | None
    head_id: int
    checkpoint_id: int
    since_checkpoint: int = 0
    monitor: Any = None
    former: SubgroupFormer | None = None
    limits: LimitVersion | None = None

    def snapshot(self) -> dict[str, Any]:
        assert self.monitor is not None and self.former is not None
        return {"monitor": self.monitor.state_dict(), "former": self.former.state()}


@dataclass
class EvaluatedPoint:
    """One chart point produced live (for the stream and metrics)."""

    characteristic_id: int
    limit_version: int | None
    point_no: int | None
    ts: datetime
    stat: float | None
    lcl: float | None
    ucl: float | None
    violations: list[str]
    value: float | None = None


@dataclass
class Outcome:
    violations: list[Violation] = field(default_factory=list)
    points: list[EvaluatedPoint] = field(default_factory=list)
    heads: list[tuple[int, int]] = field(default_factory=list)
    checkpoints: list[tuple[int, int, dict[str, Any]]] = field(default_factory=list)
    unevaluated: dict[int, int] = field(default_factory=dict)
    payload: dict[tuple[int, int, str], dict[str, Any]] = field(default_factory=dict)


def monitor_point(chart: str, size: int, sg: Subgroup) -> Any:
    """The point format `spc.Monitor.update` takes for this chart."""
    if chart in ("xbar-r", "xbar-s"):
        return list(sg.values)
    value = sg.values[0]
    if chart in ("p", "np", "u"):
        return (value, float(size))
    return value


def new_monitor(limits: LimitVersion) -> Any:
    import spc

    return spc.Monitor(spc.Limits.from_dict(limits.limits), rules=limits.rules)


class Evaluator:
    """Per-process cache of monitors plus the evaluation of one ingest batch."""

    def __init__(self, repo: Repository, *, checkpoint_every: int = 500, cache_size: int = 20_000):
        self.repo = repo
        self.checkpoint_every = checkpoint_every
        self.cache_size = cache_size
        self._cache: OrderedDict[int, CharState] = OrderedDict()
        self._lock = threading.Lock()

    # --- cache --------------------------------------------------------------------------------
    def invalidate(self, characteristic_ids: Sequence[int] | None = None) -> None:
        with self._lock:
            if characteristic_ids is None:
                self._cache.clear()
            else:
                for cid in characteristic_ids:
                    self._cache.pop(cid, None)

    def _cached(self, cid: int) -> CharState | None:
        with self._lock:
            state = self._cache.get(cid)
            if state is not None:
                self._cache.move_to_end(cid)
            return state

    def limits_of(self, cid: int) -> LimitVersion | None:
        """The limit version the cached monitor of `cid` judges against (None if uncached)."""
        state = self._cached(cid)
        return None if state is None else state.limits

    def _remember(self, state: CharState) -> None:
        with self._lock:
            self._cache[state.characteristic_id] = state
            self._cache.move_to_end(state.characteristic_id)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)

    def state_for(
        self,
        tx: Tx,
        char: Characteristic,
        head: Head,
        prefetched: tuple[Head, LimitVersion | None] | None = None,
    ) -> CharState:
        cached = self._cached(char.id)
        if (
            cached is not None
            and cached.limit_version == head.limit_version
            and cached.head_id == head.head_id
        ):
            return cached
        state = self._rebuild(tx, char, prefetched)
        self._remember(state)
        return state

    def warm(self, tx: Tx) -> int:
        """Load the monitors of the characteristics under evaluation (up to the cache size)
        before traffic arrives, so that the first batch after a start does not rebuild a
        thousand monitors inside its transaction. An entry ingest already made is kept; an
        entry that turns out stale is rebuilt by ingest as always. Returns how many loaded."""
        chars = {c.id: c for c in self.repo.list_characteristics(tx)}
        cids = [
            cid
            for (cid,) in tx.rows(
                "SELECT characteristic_id FROM monitor_state WHERE limit_version IS NOT NULL "
                "ORDER BY characteristic_id"
            )
            if cid in chars
        ][: self.cache_size]
        loaded = 0
        for start in range(0, len(cids), 500):
            chunk = cids[start : start + 500]
            prefetched = self._prefetch(tx, chunk)
            for cid in chunk:
                if cid not in prefetched or self._cached(cid) is not None:
                    continue
                state = self._rebuild(tx, chars[cid], prefetched[cid])
                with self._lock:
                    if cid not in self._cache and len(self._cache) < self.cache_size:
                        self._cache[cid] = state
                        loaded += 1
        return loaded

    def _prefetch(self, tx: Tx, cids: list[int]) -> dict[int, tuple[Head, LimitVersion | None]]:
        """Load the states and limits of many characteristics in two queries (a cold start
        touches a thousand at once)."""
        heads = self.repo.head_states(tx, cids)
        pairs = [(cid, h.limit_version) for cid, h in heads.items() if h.limit_version is not None]
        limits = self.repo.limit_versions_for(tx, pairs)
        return {
            cid: (head, limits.get((cid, head.limit_version)) if head.limit_version else None)
            for cid, head in heads.items()
        }

    def _rebuild(
        self,
        tx: Tx,
        char: Characteristic,
        prefetched: tuple[Head, LimitVersion | None] | None = None,
    ) -> CharState:
        if prefetched is not None:
            full, limits = prefetched
        else:
            full = self.repo.head_state(tx, char.id)
            limits = None
        state = CharState(char.id, full.limit_version, full.head_id, full.checkpoint_id)
        if full.limit_version is None:
            return state
        if limits is None:
            limits = self.repo.get_limit_version(tx, char.id, full.limit_version)
        if limits is None:  # pragma: no cover - approvals reference existing versions
            raise RuntimeError(f"limit version {full.limit_version} of {char.key} is missing")
        state.limits = limits
        size = self._size(char, limits)
        if full.state:
            import spc

            state.monitor = spc.Monitor.from_state(full.state["monitor"])
            state.former = SubgroupFormer.from_state(
                char.chart, size, char.subgroup_by, full.state["former"]
            )
        else:
            state.monitor = new_monitor(limits)
            state.former = SubgroupFormer(char.chart, size, char.subgroup_by)
        replay = (
            self.repo.replay_points(
                tx, char.id, full.checkpoint_id, full.head_id, full.limit_version
            )
            if full.head_id > full.checkpoint_id
            else []
        )
        points = []
        for mid, ts, value, label, quality in replay:
            if quality == "bad":
                continue
            for sg in state.former.add(mid, ts, value, label)[1]:
                points.append(monitor_point(char.chart, size, sg))
        for start in range(0, len(points), 10_000):
            state.monitor.update_many(points[start : start + 10_000])
        state.since_checkpoint = len(replay)
        if replay:
            log.info("monitor rebuilt", extra={"characteristic": char.key, "replayed": len(replay)})
        return state

    @staticmethod
    def _size(char: Characteristic, limits: LimitVersion | None) -> int:
        return int(char.subgroup_size)

    # --- one batch ----------------------------------------------------------------------------
    def prepare(
        self,
        tx: Tx,
        batch: Sequence[Measurement],
        chars: dict[int, Characteristic],
        heads: dict[int, Head],
        *,
        want_points: bool = False,
    ) -> Plan:
        """Load the monitors and number every measurement (limit_version, point_no), so that
        the rows can be stored before `judge` produces the violations. The caller holds the
        characteristic locks and has assigned ids in arrival order; `heads` were read under
        those locks (`Repository.ingest_lookups`) and cover the batch."""
        outcome = Outcome()
        plan = Plan(outcome, want_points)
        groups: dict[int, list[Measurement]] = {}
        for m in batch:
            group = groups.get(m.characteristic_id)
            if group is None:
                groups[m.characteristic_id] = [m]
            else:
                group.append(m)
        fresh: dict[int, CharState] = {}
        with self._lock:  # one pass over the cache for the whole batch
            cache = self._cache
            for cid in groups:
                cached = cache.get(cid)
                head = heads.get(cid)
                if (
                    cached is not None
                    and head is not None
                    and cached.limit_version == head.limit_version
                    and cached.head_id == head.head_id
                ):
                    cache.move_to_end(cid)
                    fresh[cid] = cached
        stale = [cid for cid in groups if cid in heads and cid not in fresh]
        prefetched = self._prefetch(tx, stale) if len(stale) > 1 else {}
        for cid, group in groups.items():
            char = chars[cid]
            state = fresh.get(cid)
            if state is None:
                head = heads.get(cid) or Head(cid, None, 0, 0)
                state = self.state_for(tx, char, head, prefetched.get(cid))
            if state.limit_version is None:
                outcome.unevaluated[cid] = len(group)
                if want_points:
                    outcome.points.extend(
                        EvaluatedPoint(cid, None, None, m.ts, m.value, None, None, [], m.value)
                        for m in group
                    )
                continue
            plan.work.append((char, state, _number(char, state, group), len(group), group[-1].id))
        return plan

    def judge(self, plan: Plan) -> Outcome:
        """The monitors' verdicts on a prepared batch: plain Python, no database, so it runs
        while the rows stream into PostgreSQL."""
        outcome, want_points = plan.outcome, plan.want_points
        # All monitors in one call: individuals charts are judged in one vectorized pass
        # (spc.update_together), which costs a fraction of a call per characteristic. Without
        # a live-stream listener only the flagged points matter (spc.flagged_together).
        busy = [(state, points) for _, state, points, _, _ in plan.work if points]
        monitors = [s.monitor for s, _ in busy]
        batches = [[p[1] for p in ps] for _, ps in busy]
        judged: Iterator[Sequence[tuple[int, PointResult]]] = iter(
            [list(enumerate(r)) for r in update_together(monitors, batches)]
            if want_points
            else flagged_together(monitors, batches)
        )
        for char, state, points, count, last_id in plan.work:
            assert state.limits is not None
            version = state.limits.version
            if points:
                for offset, result in next(judged):
                    if want_points or result.violations or result.dispersion_violations:
                        _judged(char.id, version, *points[offset][0], result, outcome, want_points)
            state.since_checkpoint += count
            state.head_id = last_id
            outcome.heads.append((char.id, last_id))
            if state.since_checkpoint >= self.checkpoint_every:
                outcome.checkpoints.append((char.id, last_id, state.snapshot()))
                state.checkpoint_id = last_id
                state.since_checkpoint = 0
        return outcome


Point = tuple[tuple[int, int, datetime, float | None], Any]
"""((point_no, last measurement id, its ts, its value if the point is one value), the point
as `spc.Monitor` takes it)."""


@dataclass
class Plan:
    """What `Evaluator.prepare` leaves for `Evaluator.judge`."""

    outcome: Outcome
    want_points: bool
    work: list[tuple[Characteristic, CharState, list[Point], int, int]] = field(
        default_factory=list
    )


def _number(char: Characteristic, state: CharState, group: Sequence[Measurement]) -> list[Point]:
    """Set limit_version and point_no of each measurement; the chart points it completes."""
    assert state.former is not None and state.limits is not None
    former, version = state.former, state.limits.version
    points: list[Point] = []
    if not former.grouped:  # one measurement, one point: no subgroup objects
        pair = char.chart in ("p", "np", "u")
        size = float(int(char.subgroup_size))
        point_no = former.point_no
        for m in group:
            m.limit_version = version
            if m.quality == "bad":
                continue
            m.point_no = point_no
            value = m.value
            points.append(((point_no, m.id, m.ts, value), (value, size) if pair else value))
            point_no += 1
        former.point_no = point_no
        return points
    chart, size = char.chart, int(char.subgroup_size)
    for m in group:
        m.limit_version = version
        if m.quality == "bad":
            continue
        point_no, done = former.add(m.id, m.ts, m.value, m.subgroup)
        m.point_no = point_no
        for sg in done:
            single = sg.values[-1] if len(sg.values) == 1 else None
            points.append(
                ((sg.point_no, sg.last_id, sg.last_ts, single), monitor_point(chart, size, sg))
            )
    return points


def _judged(
    cid: int,
    version: int,
    point_no: int,
    last_id: int,
    last_ts: datetime,
    value: float | None,
    result: Any,
    outcome: Outcome,
    want_points: bool,
) -> None:
    """The violations (and the live point) of one judged chart point."""
    violations = outcome.violations
    if result.violations:
        stat = _f(result.stat)
        for rule in result.violations:
            violations.append(
                Violation(cid, last_id, last_ts, version, point_no, "stat", rule, stat)
            )
        outcome.payload[(cid, point_no, "stat")] = {
            "value": value,
            "stat": stat,
            "lcl": _f(result.lcl),
            "ucl": _f(result.ucl),
        }
    dispersion = result.dispersion_violations
    if dispersion:
        dstat = _f(result.dispersion_stat)
        for rule in dispersion:
            violations.append(
                Violation(cid, last_id, last_ts, version, point_no, "dispersion", rule, dstat)
            )
        outcome.payload[(cid, point_no, "dispersion")] = {
            "value": None,
            "stat": dstat,
            "lcl": _f(result.dispersion_lcl),
            "ucl": _f(result.dispersion_ucl),
        }
    if want_points:
        outcome.points.append(
            EvaluatedPoint(
                cid,
                version,
                point_no,
                last_ts,
                _f(result.stat),
                _f(result.lcl),
                _f(result.ucl),
                list(result.violations) + [f"{DISPERSION}{d}" for d in dispersion],
            )
        )


def _f(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if number == number and abs(number) != float("inf") else None


__all__ = [
    "ATTRIBUTE_CHARTS",
    "LOCK_NAMESPACE",
    "CharState",
    "Evaluator",
    "Outcome",
    "lock_characteristics",
]
