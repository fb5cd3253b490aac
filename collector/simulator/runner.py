"""Paces the line model in real time and hands each tick's samples to every publisher.

The model is pure; this is the only place that reads a clock. Each tick asks the line for the
samples due since the last tick (`Line.sample` is chunking-invariant, so a late tick publishes
the same samples, only later) and awaits every publisher in turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from collector.simulator.line import Line, SimSample

log = logging.getLogger(__name__)


class Publisher(Protocol):
    async def start(self) -> None: ...

    async def publish(self, samples: Sequence[SimSample]) -> None: ...

    async def stop(self) -> None: ...


def default_tick(line: Line) -> float:
    """Half the shortest wall-clock period, between 10 ms and 200 ms."""
    shortest = min(spec.period for spec in line.characteristics) / line.speed
    return min(max(shortest / 2.0, 0.01), 0.2)


@dataclass(slots=True)
class RunStats:
    published: int = 0
    skipped: int = 0


async def run_simulation(
    line: Line,
    publishers: Sequence[Publisher],
    stop: asyncio.Event,
    *,
    tick: float | None = None,
    duration: float | None = None,
    max_lag: float | None = 0.5,
    stats: RunStats | None = None,
) -> int:
    """Runs until `stop` is set (or `duration` seconds passed); returns the samples published.

    A machine too busy to keep up would otherwise publish its backlog in bursts; an OPC UA
    server then overflows every monitored item's queue at once. Samples more than `max_lag`
    seconds late are skipped instead (counted in `stats.skipped`, logged), as a PLC whose scan
    overran simply has no value for that cycle. `max_lag=None` publishes every sample, late or
    not (MQTT brokers queue a burst; tests that count every value want them all).
    """
    step = tick if tick is not None else default_tick(line)
    stats = stats if stats is not None else RunStats()
    started = line.start.timestamp()
    deadline = None if duration is None else time.monotonic() + duration
    warned = 0.0
    while not stop.is_set():
        now = time.time()
        samples = line.sample(now - started)
        if (
            samples
            and max_lag is not None
            and now - min(s.ts for s in samples).timestamp() > max_lag
        ):
            oldest = now - max_lag
            late = len(samples)
            samples = [s for s in samples if s.ts.timestamp() >= oldest]
            stats.skipped += late - len(samples)
            if time.monotonic() - warned > 10.0:
                warned = time.monotonic()
                log.warning(
                    "simulator cannot keep up: late samples skipped",
                    extra={"fields": {"skipped_total": stats.skipped}},
                )
        if samples:
            for publisher in publishers:
                await publisher.publish(samples)
            stats.published += len(samples)
        if deadline is not None and time.monotonic() >= deadline:
            break
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=step)
    return stats.published
