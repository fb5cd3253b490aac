"""Turning a stream of measurements into chart points (subgroups), in arrival order.

* ``subgroup_by = "size"``: every `size` consecutive measurements form one subgroup (X̄-R,
  X̄-S); individuals and attribute charts use one measurement per point (for p, np and u the
  characteristic's `subgroup_size` is the sample size the count refers to, not a number of
  measurements).
* ``subgroup_by = "field"``: consecutive measurements with the same ``subgroup`` label form one
  subgroup; it closes when a measurement with another label arrives (or, when a size is set
  and reached, at that size). The last subgroup therefore waits for the next label: the shop
  floor's "sample complete" signal is the next sample.

The former's state is a small JSON-able dict, stored with the monitor's state so that a restart
continues a half-filled subgroup exactly where it stood.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from service.domain import SUBGROUP_CHARTS


@dataclass
class Subgroup:
    """A completed chart point: its ordinal, member values and its last member."""

    point_no: int
    values: list[float]
    last_id: int
    last_ts: datetime
    first_id: int


@dataclass
class SubgroupFormer:
    chart: str
    size: int
    by: str = "size"
    point_no: int = 0
    label: str | None = None
    values: list[float] = field(default_factory=list)
    first_id: int = 0
    last_id: int = 0
    last_ts: datetime | None = None

    @property
    def grouped(self) -> bool:
        return self.chart in SUBGROUP_CHARTS

    def add(
        self, mid: int, ts: datetime, value: float, label: str | None
    ) -> tuple[int, list[Subgroup]]:
        """Add one measurement; returns (its point_no, subgroups completed by this call)."""
        if not self.grouped:
            done = [Subgroup(self.point_no, [value], mid, ts, mid)]
            self.point_no += 1
            return done[0].point_no, done
        completed: list[Subgroup] = []
        if self.by == "field" and self.values and label != self.label:
            completed.append(self._close())
        if not self.values:
            self.first_id = mid
            self.label = label
        self.values.append(value)
        self.last_id, self.last_ts = mid, ts
        own = self.point_no
        capped = self.by == "size" or self.size > 1
        if capped and len(self.values) >= self.size:
            completed.append(self._close())
        return own, completed

    def _close(self) -> Subgroup:
        assert self.last_ts is not None
        done = Subgroup(self.point_no, self.values, self.last_id, self.last_ts, self.first_id)
        self.point_no += 1
        self.values = []
        self.label = None
        return done

    def state(self) -> dict[str, Any]:
        return {
            "point_no": self.point_no,
            "label": self.label,
            "values": self.values,
            "first_id": self.first_id,
            "last_id": self.last_id,
            "last_ts": self.last_ts.isoformat() if self.last_ts else None,
        }

    @classmethod
    def from_state(cls, chart: str, size: int, by: str, state: dict[str, Any]) -> SubgroupFormer:
        last_ts = state.get("last_ts")
        return cls(
            chart=chart,
            size=size,
            by=by,
            point_no=int(state["point_no"]),
            label=state.get("label"),
            values=list(state.get("values", [])),
            first_id=int(state.get("first_id", 0)),
            last_id=int(state.get("last_id", 0)),
            last_ts=datetime.fromisoformat(last_ts) if last_ts else None,
        )


def form_offline(
    chart: str,
    size: int,
    by: str,
    rows: list[tuple[int, datetime, float, str | None]],
) -> list[Subgroup]:
    """Subgroups of a stored window (display and phase I), complete ones only except that a
    field-labelled last subgroup counts as complete (no more data will arrive in the window)."""
    former = SubgroupFormer(chart, size, by)
    out: list[Subgroup] = []
    for mid, ts, value, label in rows:
        out.extend(former.add(mid, ts, value, label)[1])
    if former.grouped and former.by == "field" and former.values:
        out.append(former._close())
    return out
