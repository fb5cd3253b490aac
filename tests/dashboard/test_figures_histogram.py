"""Histogram with spec limits, fitted normal curves scaled to counts, out-of-spec bins red."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
import pytest

from dashboard.figures import theme
from dashboard.figures.histogram import histogram_figure as build_dict
from dashboard.figures.histogram import normal_curve


def histogram_figure(*args, **kwargs) -> go.Figure:
    return go.Figure(build_dict(*args, **kwargs))


def by_meta(fig, meta):
    return [tr for tr in fig.data if tr.meta == meta]


def test_bins_count_every_value_and_spec_lines_drawn():
    rng = np.random.default_rng(1)
    values = rng.normal(74.0, 0.01, 500).tolist()
    fig = histogram_figure(values, lsl=73.97, usl=74.03, target=74.0)
    (bars,) = by_meta(fig, "bins")
    assert sum(bars.y) == 500
    vlines = {s.name: s.x0 for s in fig.layout.shapes}
    assert vlines["lsl"] == 73.97 and vlines["usl"] == 74.03 and vlines["t"] == 74.0
    assert any(a.text == "USL 74.03" for a in fig.layout.annotations)
    # axis covers the specs even when no value comes near them
    lo, hi = fig.layout.xaxis.range
    assert lo < 73.97 and hi > 74.03


def test_out_of_spec_bins_red_others_blue():
    values = [1.0] * 5 + [2.0] * 5 + [9.5] * 2
    fig = histogram_figure(values, usl=8.0, bins=9)
    (bars,) = by_meta(fig, "bins")
    colours = dict(zip(bars.x, bars.marker.color, strict=True))
    assert colours[max(bars.x)] == theme.BEYOND
    assert colours[min(bars.x)] == theme.BAR


def test_normal_curves_use_capability_sigmas_and_scale_to_counts():
    rng = np.random.default_rng(2)
    values = rng.normal(10.0, 2.0, 1000).tolist()
    cap = {"mean": 10.0, "sigma_within": 1.5, "sigma_overall": 2.0}
    fig = histogram_figure(values, capability=cap, bins=20)
    (within,) = by_meta(fig, "normal-within")
    (overall,) = by_meta(fig, "normal-overall")
    (bars,) = by_meta(fig, "bins")
    width = bars.x[1] - bars.x[0]
    peak = 1000 * width / (1.5 * math.sqrt(2 * math.pi))
    assert max(within.y) == pytest.approx(peak, rel=0.01)
    assert max(overall.y) < max(within.y)  # wider curve, lower peak
    assert overall.line.dash == "dash"


def test_no_values_still_shows_specs():
    fig = histogram_figure([], lsl=1.0, usl=2.0)
    assert not by_meta(fig, "bins")
    assert {s.name for s in fig.layout.shapes} == {"lsl", "usl"}


def test_normal_curve_rejects_zero_sigma():
    assert normal_curve(0.0, 0.0, -1, 1, 10.0) == ([], [])
    xs, ys = normal_curve(0.0, 1.0, -5, 5, 1.0, points=1001)
    assert np.trapezoid(ys, xs) == pytest.approx(1.0, abs=1e-4)
