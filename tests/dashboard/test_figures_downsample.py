"""Thinning for display keeps the extremes of every bucket and every flagged point."""

from __future__ import annotations

import numpy as np

from dashboard.figures.downsample import downsample_chart, extreme_indices


def big_chart(n: int, flagged: set[int], seed: int = 7) -> dict:
    rng = np.random.default_rng(seed)
    stats = rng.normal(10.0, 1.0, n)
    disp = rng.gamma(2.0, 1.0, n)
    points = [
        {
            "i": i,
            "stat": float(stats[i]),
            "lcl": 7.0,
            "ucl": 13.0,
            "violations": ["WE2"] if i in flagged else [],
        }
        for i in range(n)
    ]
    dpoints = [{"i": i, "stat": float(disp[i]), "violations": []} for i in range(n)]
    return {"chart": "imr", "points": points, "dispersion": {"chart": "mr", "points": dpoints}}


def test_short_chart_is_returned_unchanged():
    chart = big_chart(500, {3})
    out = downsample_chart(chart, 2000)
    assert out["points"] == chart["points"]
    assert "downsampled" not in out


def test_hundred_thousand_points_thinned_keeping_flags_extremes_and_ends():
    flagged = {17, 50_001, 99_998}
    chart = big_chart(100_000, flagged)
    out = downsample_chart(chart, 2000)
    kept = [p["i"] for p in out["points"]]
    assert len(kept) <= 2000 + len(flagged) + 2
    assert kept == sorted(kept)
    assert flagged <= set(kept)
    assert {0, 99_999} <= set(kept)
    stats = np.array([p["stat"] for p in chart["points"]])
    assert int(stats.argmax()) in kept and int(stats.argmin()) in kept
    assert out["downsampled"] == {"points": 100_000, "returned": len(kept)}
    # the dispersion chart keeps exactly the same subgroups, and its own maximum
    assert [d["i"] for d in out["dispersion"]["points"]] == kept
    disp = np.array([d["stat"] for d in chart["dispersion"]["points"]])
    assert int(disp.argmax()) in kept


def test_alarm_points_are_kept_even_without_violation_list():
    chart = big_chart(10_000, set())
    chart["points"][4321]["alarm_id"] = 99
    out = downsample_chart(chart, 400)
    assert 4321 in {p["i"] for p in out["points"]}


def test_extreme_indices_per_bucket_ignore_nan():
    values = np.array([1.0, 5.0, np.nan, 2.0, 9.0, 0.0, 3.0])
    # buckets of 4: [1,5,nan,2] -> min 0, max 1 ; [9,0,3] -> max 4, min 5
    assert extreme_indices(values, 2).tolist() == [0, 1, 4, 5]
    assert extreme_indices(np.array([]), 3).tolist() == []
