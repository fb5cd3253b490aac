"""The simulated line: a pure, seeded model of the parts and lots a plant produces.

Every characteristic draws from its own numpy Generator, seeded from (scenario seed, CRC32 of its
key), so adding a characteristic or a behaviour never changes another one's values, and the
output does not depend on how often `sample` is called: the same seed gives the same sequence
whether the caller asks every 10 ms or once an hour. Variables draw one standard normal per part
whatever the active behaviours, so a scenario with a shift equals the in-control one, value for
value, before the shift starts.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import numpy as np

from collector.simulator.scenario import CharacteristicSpec, Scenario, ScenarioError

_BLOCK = 256  # normals and uniforms are drawn in fixed blocks: cheap and chunking-invariant
_EPS = 1e-9


class SimSample(NamedTuple):
    """One simulated measurement (a part's value, or a lot's count)."""

    characteristic: str
    value: float
    ts: datetime
    lot: str | None
    serial: str | None
    subgroup: str | None = None
    quality: str = "good"


@dataclass(slots=True)
class _Stream:
    spec: CharacteristicSpec
    values: np.random.Generator
    drops: np.random.Generator
    line: str = ""
    next_k: int = 0
    last_value: float | None = None
    _normals: list[float] = field(default_factory=list)
    _uniforms: list[float] = field(default_factory=list)

    def normal(self, k: int) -> float:
        i = k % _BLOCK
        if i == 0 or not self._normals:
            self._normals = self.values.standard_normal(_BLOCK).tolist()
        return self._normals[i]

    def uniform(self, k: int) -> float:
        i = k % _BLOCK
        if i == 0 or not self._uniforms:
            self._uniforms = self.drops.random(_BLOCK).tolist()
        return self._uniforms[i]


def _seed_for(seed: int, key: str) -> np.random.SeedSequence:
    return np.random.SeedSequence([seed, zlib.crc32(key.encode())])


class Line:
    """The simulated shop floor: all characteristics of a scenario, on one or several lines.

    `t` is seconds since `start`, in wall-clock time; with `speed` s > 1 the process runs s times
    faster (periods and behaviour times are simulated seconds, timestamps stay wall-clock).

    >>> from collector.simulator.scenario import load_scenario
    >>> line = Line.from_scenario(load_scenario("demo"), seed=1)
    >>> len(line.sample(1.0)) > 0
    True
    """

    def __init__(
        self,
        specs: tuple[CharacteristicSpec, ...],
        *,
        seed: int,
        start: datetime | None = None,
        speed: float = 1.0,
    ) -> None:
        if speed <= 0 or not math.isfinite(speed):
            raise ScenarioError("speed", f"must be > 0, got {speed!r}")
        if seed < 0:
            raise ScenarioError("seed", f"must be >= 0, got {seed!r}")
        self.characteristics = specs
        self.seed = seed
        self.speed = speed
        self.start = start if start is not None else datetime.now(UTC)
        if self.start.tzinfo is None:
            raise ScenarioError("start", "must be timezone-aware")
        self._streams = []
        for spec in specs:
            values_seq, drops_seq = _seed_for(seed, spec.key).spawn(2)
            self._streams.append(
                _Stream(
                    spec,
                    np.random.default_rng(values_seq),
                    np.random.default_rng(drops_seq),
                    line=spec.line,
                )
            )

    @classmethod
    def from_scenario(
        cls,
        scenario: Scenario,
        *,
        seed: int | None = None,
        start: datetime | None = None,
        speed: float = 1.0,
    ) -> Line:
        """The scenario's own seed is used unless `seed` is given (0 when neither is)."""
        chosen = seed if seed is not None else (scenario.seed if scenario.seed is not None else 0)
        return cls(scenario.characteristics, seed=chosen, start=start, speed=speed)

    def sample(self, t: float) -> list[SimSample]:
        """Every sample due in (previous t, t], per characteristic in production order."""
        sim_t = t * self.speed
        out: list[SimSample] = []
        for stream in self._streams:
            period = stream.spec.period
            due = math.floor(sim_t / period + _EPS) + 1 if sim_t >= 0 else 0
            while stream.next_k < due:
                sample = self._produce(stream, stream.next_k)
                stream.next_k += 1
                if sample is not None:
                    out.append(sample)
        return out

    def _produce(self, stream: _Stream, k: int) -> SimSample | None:
        spec = stream.spec
        s = k * spec.period
        u = stream.uniform(k)
        if spec.kind == "variable":
            value = self._variable(stream, k, s)
        else:
            value = self._attribute(stream, s)
        quality = "good"
        dropped = False
        for b in spec.behaviours:
            if not b.active(s):
                continue
            if b.kind == "stuck" and stream.last_value is not None:
                value = stream.last_value
            elif b.kind == "dropout" and u < b.probability:
                dropped = True
            elif b.kind == "fault":
                quality = "bad"
        if spec.decimals is not None:
            value = round(value, spec.decimals)
        if dropped:
            return None
        stream.last_value = value
        ts = self.start + timedelta(seconds=s / self.speed)
        line = stream.line
        if spec.kind == "variable":
            lot = f"{line}-L{k // spec.lot_parts + 1:05d}" if spec.lot_parts else None
            serial = f"{line}-{k + 1:07d}" if spec.serials else None
            subgroup = f"SG{k // spec.subgroup_size + 1:06d}" if spec.subgroup_size > 1 else None
        else:
            lot, serial, subgroup = f"{line}-{spec.station}-L{k + 1:05d}", None, None
        return SimSample(spec.key, value, ts, lot, serial, subgroup, quality)

    @staticmethod
    def _variable(stream: _Stream, k: int, s: float) -> float:
        spec = stream.spec
        mean, sigma = spec.mean, spec.sigma
        z = stream.normal(k)
        if not spec.behaviours:
            return mean + sigma * z
        for b in spec.behaviours:
            if not b.active(s):
                continue
            if b.kind == "shift":
                mean += b.size * spec.sigma
            elif b.kind == "trend":
                mean += b.slope * spec.sigma * (s - b.at) / 60.0
            elif b.kind == "variance":
                sigma *= b.factor
        return mean + sigma * z

    @staticmethod
    def _attribute(stream: _Stream, s: float) -> float:
        spec = stream.spec
        n, rate = spec.lot_size, spec.rate
        center = n * rate
        sd = math.sqrt(center) if spec.kind == "defects" else math.sqrt(center * (1.0 - rate))
        for b in spec.behaviours:
            if not b.active(s):
                continue
            if b.kind == "shift":
                center += b.size * sd
            elif b.kind == "trend":
                center += b.slope * sd * (s - b.at) / 60.0
        center = max(center, 0.0)
        if spec.kind == "defects":
            return float(stream.values.poisson(center))
        return float(stream.values.binomial(n, min(center / n, 1.0)))
