"""Built-in scenarios: the demo plant and a synthetic load for benchmarks.

The demo plant has two lines and a dozen characteristics covering every chart family: individuals
(I-MR), subgroups of 5 (X̄-R), defect counts per lot (c/u) and defectives per lot (p/np). About a
minute in, line 1's tightening torque shifts by 2σ and line 2's fill weight starts to drift, so a
demo shows rule violations (WE1/WE2 for the shift, WE4/N3 for the trend) within a few minutes.
Bore diameters use the piston-ring process of Montgomery's example 6.1 (74.000 mm, σ ≈ 0.01 mm).
"""

from __future__ import annotations

import re
from typing import Any

_LOAD = re.compile(r"^load:(\d+)@(\d+(?:\.\d+)?)$")


def demo_scenario() -> dict[str, Any]:
    def var(key: str, name: str, unit: str, mean: float, sigma: float, **kw: Any) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "key": key,
            "kind": "variable",
            "name": name,
            "unit": unit,
            "mean": mean,
            "sigma": sigma,
            "lsl": round(mean - 4.5 * sigma, 6),
            "usl": round(mean + 4.5 * sigma, 6),
            "target": mean,
            "period": 1.0,
            "lot_parts": 100,
            "chart": "imr",
        }
        spec.update(kw)
        return spec

    return {
        "name": "demo",
        "seed": 2026,
        "description": "Two lines, a dozen characteristics; a shift and a trend about a minute in.",
        "characteristics": [
            var("line1.op10.bore", "Bore diameter", "mm", 74.0, 0.01, decimals=4, subgroup_size=5,
                chart="xbar-r", period=0.5),
            var("line1.op10.face_runout", "Face runout", "mm", 0.020, 0.003, decimals=4),
            var("line1.op20.torque", "Tightening torque", "N·m", 25.0, 0.4, decimals=2,
                behaviours=[{"kind": "shift", "at": 60, "size": 2.0}]),
            var("line1.op20.angle", "Tightening angle", "°", 90.0, 1.5, decimals=1),
            var("line1.op30.leak_rate", "Leak rate", "cm³/min", 2.0, 0.15, decimals=3,
                behaviours=[{"kind": "dropout", "at": 120, "duration": 10}]),
            {"key": "line1.op40.surface_defects", "kind": "defects",
             "name": "Surface defects per lot", "unit": "defects", "lot_size": 50, "rate": 0.08,
             "period": 10.0, "chart": "c"},
            var("line2.op10.fill_weight", "Fill weight", "g", 500.0, 1.2, decimals=1,
                subgroup_size=5, chart="xbar-r", period=0.5,
                behaviours=[{"kind": "trend", "at": 60, "slope": 0.5}]),
            var("line2.op10.fill_temp", "Product temperature", "°C", 65.0, 0.8, decimals=1),
            var("line2.op20.seal_temp", "Seal jaw temperature", "°C", 180.0, 1.0, decimals=1,
                behaviours=[{"kind": "variance", "at": 150, "factor": 2.0}]),
            var("line2.op20.seal_strength", "Seal strength", "N/15mm", 12.0, 0.6, decimals=2,
                behaviours=[{"kind": "stuck", "at": 200, "duration": 20}]),
            var("line2.op30.cap_torque", "Cap removal torque", "N·m", 1.8, 0.1, decimals=3,
                chart="ewma"),
            {"key": "line2.op40.label_defectives", "kind": "defectives",
             "name": "Mislabelled units", "unit": "units", "lot_size": 200, "rate": 0.02,
             "period": 10.0, "chart": "np"},
        ],
    }  # fmt: skip


def load_scenario_spec(count: int, hz: float) -> dict[str, Any]:
    """`count` individuals characteristics sampled at `hz`: the OPC UA throughput bench."""
    return {
        "name": f"load:{count}@{hz:g}",
        "seed": 1,
        "characteristics": [
            {
                "key": f"load.s{i // 100:02d}.c{i:05d}",
                "mean": 10.0,
                "sigma": 1.0,
                "period": 1.0 / hz,
                "serials": False,
            }
            for i in range(count)
        ],
    }


def builtin_scenario(name: str) -> dict[str, Any] | None:
    if name == "demo":
        return demo_scenario()
    match = _LOAD.match(name)
    if match:
        return load_scenario_spec(int(match.group(1)), float(match.group(2)))
    return None
