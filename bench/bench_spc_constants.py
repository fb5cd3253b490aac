"""Exact control chart constants: Linewatch `spc.constants` against `shewhart` (PyPI), same run.

    .venv/bin/python bench/bench_spc_constants.py

Both compute d₂ and d₃ by numerical integration instead of reading rounded tables. Each side
runs in a fresh child process (cold caches), timing d₂(n) and d₃(n) for every n in a range;
the values are compared against each other and against qcc's printed tables.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

CHILD = """
import json, sys, time
start = time.perf_counter()
import {module} as m
ns = range(2, {top} + 1)
values = [(m.d2(n), m.d3(n)) for n in ns]
print(json.dumps({{"seconds": time.perf_counter() - start, "values": values}}))
"""


def run(module: str, top: int, timeout: float = 600.0) -> dict[str, object]:
    code = CHILD.format(module=module, top=top)
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, check=True
    )
    result: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    result["wall"] = time.perf_counter() - started
    return result


def main() -> None:
    load = os.getloadavg()
    print(f"{os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    meta = json.loads(
        (Path(__file__).resolve().parents[1] / "tests/data/expected_qcc.json").read_text()
    )["meta"]
    ours_25 = run("spc.constants", 25)
    ours_100 = run("spc.constants", 100)
    peer_25 = run("shewhart._constants", 25)
    ours_values = ours_25["values"]
    peer_values = peer_25["values"]
    assert isinstance(ours_values, list) and isinstance(peer_values, list)
    d2_diff = max(abs(a[0] - b[0]) for a, b in zip(ours_values, peer_values, strict=True))
    d3_diff = max(abs(a[1] - b[1]) for a, b in zip(ours_values, peer_values, strict=True))
    table_diff = max(
        abs(v[0] - meta["qcc_d2_table"][n - 1]) for n, v in enumerate(ours_values, start=2)
    )
    ours_s = float(ours_25["seconds"])  # type: ignore[arg-type]
    peer_s = float(peer_25["seconds"])  # type: ignore[arg-type]
    print("| case | Linewatch | shewhart | ratio |")
    print("| --- | --- | --- | --- |")
    print(f"| d2, d3 for n = 2..25 (import + compute) | {ours_s * 1000:.0f} ms | "
          f"{peer_s * 1000:.0f} ms | {peer_s / ours_s:.0f}x |")  # fmt: skip
    print(f"| d2, d3 for n = 2..100 | {float(ours_100['seconds']) * 1000:.0f} ms | | |")  # type: ignore[arg-type]
    print(f"\nmax |d2 difference| {d2_diff:.1e}, max |d3 difference| {d3_diff:.1e} (n = 2..25)")
    print(f"max |d2 - qcc's 3-decimal table| {table_diff:.1e}")


if __name__ == "__main__":
    main()
