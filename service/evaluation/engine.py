"""Evaluation of accepted measurements, in arrival order, by one `spc.Monitor` per characteristic.

Ownership and order. The ingest transaction first takes a lock per characteristic it touches
(a PostgreSQL advisory lock keyed by characteristic id, ARCHITECTURE "Scaling"; on SQLite the
single write transaction) and only then allocates measurement ids. Hence, per characteristic,
ids grow in commit order, and "arrival order" is simply id order, across replicas too.

State that survives a restart. ``monitor_state`` holds per characteristic the limit version
being judged against, ``head_id`` (the last measurement evaluated, updated in every ingest
transaction) and a checkpoint: the monitor's and subgroup former's state as of
``checkpoint_id``, written every `checkpoint_every` points. Rebuilding a monitor = load the
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
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from service.domain import ATTRIBUTE_CHARTS, Characteristic, LimitVersion, Measurement, Violation
from service.evaluation.former import Subgroup, SubgroupFormer
from service.storage.db import Tx
from service.storage.repo_measurements import Head
from service.storage.repository import Repository

log = logging.getLogger("linewatch.evaluation")

LOCK_NAMESPACE = 0x4C570001
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

    def _is_fresh(self, cid: int, head: Head) -> bool:
        cached = self._cached(cid)
        return (
            cached is not None
            and cached.limit_version == head.limit_version
            and cached.head_id == head.head_id
        )

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
    def evaluate(
        self,
        tx: Tx,
        batch: Sequence[Measurement],
        chars: dict[int, Characteristic],
        *,
        want_points: bool = False,
    ) -> Outcome:
        """Annotate `batch` (limit_version, point_no) and produce its violations.

        The caller holds the characteristic locks and has assigned ids in arrival order.
        """
        outcome = Outcome()
        groups: dict[int, list[Measurement]] = {}
        for m in batch:
            groups.setdefault(m.characteristic_id, []).append(m)
        heads = self.repo.heads(tx, list(groups))
        stale = [cid for cid in groups if cid in heads and not self._is_fresh(cid, heads[cid])]
        prefetched = self._prefetch(tx, stale) if len(stale) > 1 else {}
        for cid, group in groups.items():
            char = chars[cid]
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
            self._run(char, state, group, outcome, want_points)
            state.head_id = group[-1].id
            outcome.heads.append((cid, state.head_id))
            if state.since_checkpoint >= self.checkpoint_every:
                outcome.checkpoints.append((cid, state.head_id, state.snapshot()))
                state.checkpoint_id = state.head_id
                state.since_checkpoint = 0
        return outcome

    def _run(
        self,
        char: Characteristic,
        state: CharState,
        group: Sequence[Measurement],
        outcome: Outcome,
        want_points: bool,
    ) -> None:
        assert state.former is not None and state.limits is not None
        former, monitor, version = state.former, state.monitor, state.limits.version
        chart = char.chart
        size = int(char.subgroup_size)
        add = former.add
        completed: list[Subgroup] = []
        for m in group:
            m.limit_version = version
            if m.quality == "bad":
                continue
            point_no, done = add(m.id, m.ts, m.value, m.subgroup)
            m.point_no = point_no
            if done:
                completed.extend(done)
        if not completed:
            state.since_checkpoint += len(group)
            return
        # One vectorized call per characteristic and batch: spc's per-call cost dominates.
        results = monitor.update_many([monitor_point(chart, size, sg) for sg in completed])
        violations = outcome.violations
        for sg, result in zip(completed, results, strict=True):
            if result.violations:
                for rule in result.violations:
                    violations.append(
                        Violation(
                            char.id,
                            sg.last_id,
                            sg.last_ts,
                            version,
                            sg.point_no,
                            "stat",
                            rule,
                            _f(result.stat),
                        )
                    )
                outcome.payload[(char.id, sg.point_no, "stat")] = {
                    "value": sg.values[-1] if len(sg.values) == 1 else None,
                    "stat": _f(result.stat),
                    "lcl": _f(result.lcl),
                    "ucl": _f(result.ucl),
                }
            dispersion = result.dispersion_violations
            if dispersion:
                dstat = _f(result.dispersion_stat)
                for rule in dispersion:
                    violations.append(
                        Violation(
                            char.id,
                            sg.last_id,
                            sg.last_ts,
                            version,
                            sg.point_no,
                            "dispersion",
                            rule,
                            dstat,
                        )
                    )
                outcome.payload[(char.id, sg.point_no, "dispersion")] = {
                    "value": None,
                    "stat": dstat,
                    "lcl": _f(result.dispersion_lcl),
                    "ucl": _f(result.dispersion_ucl),
                }
            if want_points:
                outcome.points.append(
                    EvaluatedPoint(
                        char.id,
                        version,
                        sg.point_no,
                        sg.last_ts,
                        _f(result.stat),
                        _f(result.lcl),
                        _f(result.ucl),
                        list(result.violations) + [f"{DISPERSION}{d}" for d in dispersion],
                    )
                )
        state.since_checkpoint += len(group)


def _f(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if number == number and abs(number) != float("inf") else None


__all__ = ["ATTRIBUTE_CHARTS", "LOCK_NAMESPACE", "CharState", "Evaluator", "Outcome"]
