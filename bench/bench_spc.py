"""Linewatch `spc` against the `shewhart` package (PyPI), same process, same data.

    .venv/bin/python bench/bench_spc.py [--quick] [--repeat N] [--shewhart-timeout S]

Cases (all with the eight Nelson rules):

* I-MR over 1,000,000 individual values (target: Linewatch < 0.2 s);
* X̄-R, n = 5, over 1,000,000 values = 200,000 subgroups (target < 0.3 s). shewhart selects
  each subgroup with a boolean mask over the whole frame, so its time grows with the square of
  the size: it runs on all 200,000 subgroups in a child process stopped after
  ``--shewhart-timeout`` seconds (reported as "> N s"), and on 10,000 and 20,000 subgroups to fit
  t = a·g + c·g², whose extrapolation is printed beside it;
* the streaming Monitor with frozen limits: micro-batches of 1,000 points and single-point
  updates (target >= 200,000 points/s on one core). shewhart has no streaming API, so the
  peer figure there is its batch I-MR rate, the cost of re-running a chart per batch;
* a service's batch: 1,000 individuals monitors with 4 new points each, `spc.update_together`
  against each monitor's own `update_many` (the peer here is Linewatch's per-monitor path;
  both must flag the same points).

Times are best of N runs (the minimum is the least disturbed by other load on the machine).
The table at the end is markdown, for the README's performance section.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import spc

N_VALUES = 1_000_000
SUBGROUP = 5
BATCH = 1_000
SEED = 20261126


def best_of(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Minimum wall time over `repeat` runs, and the last result."""
    best = math.inf
    result: Any = None
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def fmt_s(seconds: float) -> str:
    if seconds >= 10:
        return f"{seconds:.0f} s"
    if seconds >= 1:
        return f"{seconds:.1f} s"
    return f"{seconds * 1000:.0f} ms" if seconds >= 0.01 else f"{seconds * 1000:.1f} ms"


def fmt_rate(points_per_s: float) -> str:
    return f"{points_per_s / 1000:,.0f} k points/s"


def bench_imr(x: np.ndarray, repeat: int, shewhart_repeat: int) -> dict[str, Any]:
    import shewhart as sw

    lw_time, lw = best_of(lambda: spc.chart("imr", x, rules="nelson"), repeat)
    sw_time, sr = best_of(lambda: sw.imr(x, rules="nelson"), shewhart_repeat)
    # Touch the per-point violation lists too, so that Linewatch pays for what shewhart builds.
    lw_full, _ = best_of(lambda: spc.chart("imr", x, rules="nelson").violations, repeat)
    agreement = {
        "center": (float(lw.center), sr.stats["i_center"]),
        "sigma": (float(lw.sigma), sr.stats["sigma_within"]),
        "lcl": (float(lw.lcl[0]), sr.stats["i_lcl"]),
        "ucl": (float(lw.ucl[0]), sr.stats["i_ucl"]),
        "MR center": (float(lw.dispersion.center), sr.stats["mr_center"]),
        "MR ucl": (float(lw.dispersion.ucl[1]), sr.stats["mr_ucl"]),
    }
    return {"lw": lw_time, "lw_with_lists": lw_full, "sw": sw_time, "agreement": agreement}


def _shewhart_xbar(x: np.ndarray, groups: int) -> float:
    import pandas as pd
    import shewhart as sw

    values = x[: groups * SUBGROUP]
    frame = pd.DataFrame({"value": values, "subgroup": np.repeat(np.arange(groups), SUBGROUP)})
    start = time.perf_counter()
    sw.xbar_r(frame, value="value", subgroup="subgroup", rules="nelson")
    return time.perf_counter() - start


def _shewhart_xbar_bounded(groups: int, timeout: float) -> float | None:
    """shewhart on `groups` subgroups in a child process, or None past `timeout` seconds."""
    try:
        proc = subprocess.run(
            [sys.executable, __file__, "--child-xbar", str(groups)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        )
    except subprocess.TimeoutExpired:
        return None
    return float(proc.stdout.strip().splitlines()[-1])


def bench_xbar(x: np.ndarray, repeat: int, timeout: float, quick: bool) -> dict[str, Any]:
    """shewhart selects each subgroup with a mask over the whole frame: t(g) = a·g + c·g².

    Fit a and c on two smaller sizes (best of 2 each), extrapolate to the full size, and also
    run the full size in a child process bounded by `timeout` (0 skips it).
    """
    matrix = x.reshape(-1, SUBGROUP)
    groups = matrix.shape[0]
    lw_time, lw = best_of(lambda: spc.chart("xbar-r", matrix, rules="nelson"), repeat)
    _shewhart_xbar(x, 500)  # warm-up: first-call imports and caches
    small, large = (2_000, 4_000) if quick else (10_000, 20_000)
    t_small = min(_shewhart_xbar(x, small) for _ in range(2))
    t_large = min(_shewhart_xbar(x, large) for _ in range(2))
    # Solve t = a·g + c·g² through both points; noise can make c negative: then linear.
    c = max(0.0, (t_large / large - t_small / small) / (large - small))
    a = max(0.0, t_small / small - c * small)
    model = a * groups + c * groups * groups
    note = (
        f"{small:,} subgroups {fmt_s(t_small)}, {large:,} subgroups {fmt_s(t_large)}; "
        f"model a·g + c·g² extrapolates {fmt_s(model)} for {groups:,}"
    )
    measured = _shewhart_xbar_bounded(groups, timeout) if timeout > 0 else None
    if measured is not None:
        shown, value = fmt_s(measured), measured
        note += f"; measured {fmt_s(measured)}"
    else:
        shown = f"> {timeout:.0f} s (model ~{fmt_s(model)})" if timeout > 0 else f"~{fmt_s(model)}"
        value = timeout if timeout > 0 else model  # a lower bound when stopped
        note += f"; full size {'stopped after ' + fmt_s(timeout) if timeout > 0 else 'not run'}"
    return {"lw": lw_time, "sw": value, "sw_shown": shown, "sw_note": note, "lw_res": lw}


def bench_monitor(x: np.ndarray, repeat: int, quick: bool) -> dict[str, Any]:
    phase1 = spc.chart("imr", x[:1000], rules="nelson")
    stream = x[1000:] if not quick else x[1000:201_000]

    def batches() -> int:
        monitor = spc.Monitor(phase1.limits, rules="nelson")
        flagged = 0
        for start in range(0, stream.shape[0], BATCH):
            for result in monitor.update_many(stream[start : start + BATCH]):
                flagged += bool(result.violations)
        return flagged

    single_points = stream[: 50_000 if quick else 200_000].tolist()

    def singles() -> int:
        monitor = spc.Monitor(phase1.limits, rules="nelson")
        flagged = 0
        for value in single_points:
            flagged += bool(monitor.update(value).violations)
        return flagged

    batch_time, batch_flags = best_of(batches, repeat)
    single_time, _ = best_of(singles, max(1, repeat // 2))
    # Streaming must flag exactly what the batch chart flags against the same frozen limits.
    batch_chart = spc.chart("imr", stream, limits=phase1.limits, rules="nelson")
    expected = int(np.count_nonzero(batch_chart.any_violation))
    return {
        "batch_rate": stream.shape[0] / batch_time,
        "single_rate": len(single_points) / single_time,
        "batch_points": stream.shape[0],
        "single_points": len(single_points),
        "agree": (batch_flags, expected),
    }


def bench_together(x: np.ndarray, repeat: int) -> dict[str, Any]:
    """A service's batch: 1,000 characteristics, 4 new points each, one monitor per
    characteristic; `spc.update_together` against each monitor's own `update_many`."""
    phase1 = spc.chart("imr", x[:1000], rules="nelson")
    monitors, points = 1000, 4
    history = x[1000 : 1000 + 20 * monitors].reshape(monitors, 20)
    batches = [
        x[50_000 + k * points * 50 : 50_000 + (k + 1) * points * 50].reshape(50, points).tolist()
        for k in range(monitors)
    ]

    def fresh() -> list[spc.Monitor]:
        out = [spc.Monitor(phase1.limits, rules="nelson") for _ in range(monitors)]
        for monitor, past in zip(out, history, strict=True):
            monitor.update_many(past.tolist())
        return out

    def run(how: str) -> tuple[float, int]:
        """Seconds spent judging (the monitors' set-up is not timed) and points flagged."""
        watched = fresh()
        flagged, spent = 0, 0.0
        for step in range(50):
            batch = [b[step] for b in batches]
            started = time.perf_counter()
            if how == "flagged":  # what the service asks: results for flagged points only
                hits = spc.flagged_together(watched, batch)
                spent += time.perf_counter() - started
                flagged += sum(bool(r.violations) for found in hits for _, r in found)
                continue
            if how == "together":
                results = spc.update_together(watched, batch)
            else:
                results = [m.update_many(p) for m, p in zip(watched, batch, strict=True)]
            spent += time.perf_counter() - started
            flagged += sum(bool(r.violations) for rs in results for r in rs)
        return spent, flagged

    each = min(run("each") for _ in range(repeat))
    together = min(run("together") for _ in range(repeat))
    flagged = min(run("flagged") for _ in range(repeat))
    total = 50 * monitors * points
    return {
        "each_rate": total / each[0],
        "together_rate": total / together[0],
        "flagged_rate": total / flagged[0],
        "agree": together[1] == each[1] == flagged[1],
    }


def machine_line() -> str:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (math.nan,) * 3
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, numpy {np.__version__}; load average "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller peer runs (smoke test)")
    parser.add_argument(
        "--shewhart-timeout",
        type=float,
        default=120.0,
        help="bound on the full-size X̄-R peer run, seconds (0: extrapolate only)",
    )
    parser.add_argument("--child-xbar", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--repeat", type=int, default=5, help="runs per Linewatch timing")
    args = parser.parse_args()
    rng = np.random.default_rng(SEED)
    x = rng.normal(74.0, 0.01, N_VALUES)
    if args.child_xbar:
        print(_shewhart_xbar(x, args.child_xbar))
        return
    import shewhart

    print(machine_line())
    print(f"Linewatch spc vs shewhart {shewhart.__version__}; best of {args.repeat} runs\n")

    imr = bench_imr(x, args.repeat, 1 if args.quick else 2)
    print("I-MR center and limits, Linewatch vs shewhart (same data):")
    for name, (ours, theirs) in imr["agreement"].items():
        rel = abs(ours - theirs) / max(abs(theirs), 1e-300)
        print(f"  {name:<10} {ours:.12g}  {theirs:.12g}  rel. diff {rel:.1e}")

    xbar = bench_xbar(x, args.repeat, 0.0 if args.quick else args.shewhart_timeout, args.quick)
    monitor = bench_monitor(x, args.repeat, args.quick)
    together = bench_together(x, args.repeat)
    flagged, expected = monitor["agree"]
    print(
        f"\nMonitor: {flagged} points flagged in micro-batches, {expected} by the batch chart "
        f"with the same frozen limits ({'agree' if flagged == expected else 'DISAGREE'})"
    )

    sw_rate = N_VALUES / imr["sw"]
    rows = [
        (
            "I-MR, 1,000,000 values, Nelson rules",
            fmt_s(imr["lw"]) + f" ({fmt_s(imr['lw_with_lists'])} with per-point lists)",
            fmt_s(imr["sw"]),
            f"{imr['sw'] / imr['lw']:.0f}x",
            "< 0.2 s",
        ),
        (
            "X̄-R n=5, 200,000 subgroups, Nelson rules",
            fmt_s(xbar["lw"]),
            xbar["sw_shown"],
            ("> " if xbar["sw_shown"].startswith(">") else "") + f"{xbar['sw'] / xbar['lw']:.0f}x",
            "< 0.3 s",
        ),
        (
            f"Monitor, micro-batches of {BATCH:,} ({monitor['batch_points']:,} points)",
            fmt_rate(monitor["batch_rate"]),
            f"{fmt_rate(sw_rate)} (batch I-MR)",
            f"{monitor['batch_rate'] / sw_rate:.1f}x",
            ">= 200 k points/s",
        ),
        (
            "1,000 monitors x 4 points per call, Nelson (update_together)"
            + ("" if together["agree"] else " DISAGREE"),
            fmt_rate(together["together_rate"]),
            f"{fmt_rate(together['each_rate'])} (update_many per monitor)",
            f"{together['together_rate'] / together['each_rate']:.1f}x",
            "",
        ),
        (
            "the same, flagged points only (flagged_together, what the service asks)"
            + ("" if together["agree"] else " DISAGREE"),
            fmt_rate(together["flagged_rate"]),
            f"{fmt_rate(together['each_rate'])} (update_many per monitor)",
            f"{together['flagged_rate'] / together['each_rate']:.1f}x",
            "",
        ),
        (
            f"Monitor, single-point updates ({monitor['single_points']:,} points)",
            fmt_rate(monitor["single_rate"]),
            "no streaming API",
            "",
            "",
        ),
    ]
    print("\n| case | Linewatch | shewhart | ratio | target |")
    print("| --- | --- | --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(f"\nX̄-R shewhart: {xbar['sw_note']}.")


if __name__ == "__main__":
    main()
