"""Group commit: concurrent ingest requests share one transaction.

Evaluation cost is dominated by one `spc.Monitor.update_many` call per characteristic and
transaction (its per-call overhead is far larger than its per-point cost). When several
collectors post at once, their batches are merged: the first waiting request becomes the
leader, takes everything queued (up to `max_items` records), runs it as one transaction and
hands each request its own answer; then the next waiting request leads. A lone request pays
nothing extra, and under load the batches, and with them the evaluation, grow by themselves.
A leader also waits up to `linger` (25 ms) for requests that announced themselves and are
still parsing, so that groups stay even under steady load. Per-characteristic arrival order is
the order requests entered the queue. If a merged group fails, its batches are retried one by
one, so one bad batch never fails the others.

A group holds about half of the rows in the system at the recent peak (the group being
committed plus those queued behind it), never less than `floor` rows: then the other half
parses while one half commits. Taking the whole queue made steady load settle into
alternating groups of very different sizes (8 senders of 1,000 rows: groups of 1,000 and
7,000), the small one's transaction too short for the large one's requests to parse beside it;
halves ran 7-10 % faster in alternating pairs of bench/bench_ingest.py (bench/README.md).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

log = logging.getLogger("linewatch.ingest")

PEAK_HALF_LIFE = 1.0
"""Seconds: how fast the remembered peak load fades once the load falls."""

T = TypeVar("T")
R = TypeVar("R")


@dataclass(eq=False)
class _Ticket(Generic[T]):
    item: T
    size: int
    done: bool = False
    result: Any = None
    error: BaseException | None = None
    _: Any = field(default=None, repr=False)


class GroupCommitter(Generic[T, R]):
    def __init__(
        self,
        process: Callable[[Sequence[T]], Sequence[R]],
        *,
        size_of: Callable[[T], int] = lambda item: 1,
        max_items: int = 200_000,
        linger: float = 0.025,
        floor: int = 2_000,
    ) -> None:
        self._process = process
        self._size_of = size_of
        self._max = max_items
        self._linger = linger
        self._floor = floor
        self._queue: deque[_Ticket[T]] = deque()
        self._queued = 0  # items in the queue
        self._running = 0  # items in the group being processed
        self._peak = 0.0  # recent peak of queued + running, halving every PEAK_HALF_LIFE
        self._peak_at = time.monotonic()
        self._cv = threading.Condition()
        self._leading = False
        self._arriving = 0

    def announce(self) -> None:
        """A request will submit soon (it is still parsing): a leader may wait for it."""
        with self._cv:
            self._arriving += 1

    def withdraw(self) -> None:
        """An announced request will not submit after all."""
        with self._cv:
            self._arriving -= 1
            self._cv.notify_all()

    def submit(self, item: T, *, announced: bool = False) -> R:
        ticket = _Ticket(item, self._size_of(item))
        with self._cv:
            self._queue.append(ticket)
            self._queued += ticket.size
            self._observe()
            if announced:
                self._arriving -= 1
                self._cv.notify_all()
            while not ticket.done:
                if self._leading:
                    self._cv.wait()
                    continue
                self._leading = True
                self._gather()
                group = self._take()
                self._running = sum(t.size for t in group)
                self._cv.release()
                try:
                    self._run(group)
                finally:
                    self._cv.acquire()
                    self._leading = False
                    self._running = 0
                    self._cv.notify_all()
        if ticket.error is not None:
            raise ticket.error
        return ticket.result  # type: ignore[no-any-return]

    def _gather(self) -> None:
        """Wait (at most `linger`) for requests that announced themselves and are still
        parsing before taking the queue: otherwise a batch queued during a large group runs
        alone while the others parse, each such tiny group paying a whole transaction's fixed
        cost. A lone request waits for nobody."""
        deadline = time.monotonic() + self._linger
        while self._arriving > 0 and self._queued < self._budget():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._cv.wait(left)

    def _observe(self) -> None:
        now = time.monotonic()
        decayed = self._peak * 0.5 ** ((now - self._peak_at) / PEAK_HALF_LIFE)
        self._peak, self._peak_at = max(decayed, float(self._queued + self._running)), now

    def _budget(self) -> float:
        """Items a group takes (it may pass this by its last batch, never `max_items`)."""
        faded = self._peak * 0.5 ** ((time.monotonic() - self._peak_at) / PEAK_HALF_LIFE)
        return min(float(self._max), max(float(self._floor), faded / 2))

    def _take(self) -> list[_Ticket[T]]:
        group = [self._queue.popleft()]
        total = group[0].size
        budget = self._budget()
        while self._queue and total < budget and total + self._queue[0].size <= self._max:
            ticket = self._queue.popleft()
            total += ticket.size
            group.append(ticket)
        self._queued -= total
        return group

    def _run(self, group: list[_Ticket[T]]) -> None:
        try:
            results = self._process([t.item for t in group])
        except BaseException as exc:
            if len(group) == 1:
                self._finish(group[0], None, exc)
                return
            log.warning(
                "a merged group of %d batches failed (%s); retrying one by one", len(group), exc
            )
            for ticket in group:  # isolate the failing batch
                try:
                    (result,) = self._process([ticket.item])
                except BaseException as single:
                    self._finish(ticket, None, single)
                else:
                    self._finish(ticket, result, None)
            return
        for ticket, result in zip(group, results, strict=True):
            self._finish(ticket, result, None)

    @staticmethod
    def _finish(ticket: _Ticket[T], result: Any, error: BaseException | None) -> None:
        ticket.result, ticket.error, ticket.done = result, error, True
