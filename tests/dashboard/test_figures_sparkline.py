"""Overview sparklines: inline SVG with the trend, limit band, flagged and last points."""

from __future__ import annotations

import base64
import re

from dashboard.figures import theme
from dashboard.figures.sparkline import sparkline_svg, svg_data_uri


def test_polyline_has_one_vertex_per_finite_value_and_flags_are_red_dots():
    values = [1.0, 2.0, None, 3.0, 2.5, float("nan"), 4.0]
    flags = [False, False, False, True, False, False, True]
    svg = sparkline_svg(values, flagged=flags, lcl=0.0, ucl=5.0, center=2.5)
    (points,) = re.findall(r'points="([^"]+)"', svg)
    assert len(points.split()) == 5
    assert svg.count('class="flag"') == 2
    assert f'fill="{theme.BEYOND}"' in svg
    assert svg.count('class="band"') == 1 and svg.count('class="center"') == 1
    assert svg.count('class="last"') == 1


def test_values_scale_inside_the_box_with_higher_values_higher():
    svg = sparkline_svg([0.0, 10.0], width=100, height=40)
    (points,) = re.findall(r'points="([^"]+)"', svg)
    (x0, y0), (x1, y1) = (tuple(map(float, p.split(","))) for p in points.split())
    assert 0 <= x0 < x1 <= 100 and 0 <= y1 < y0 <= 40


def test_empty_series_draws_a_dashed_placeholder():
    svg = sparkline_svg([None, None])
    assert "stroke-dasharray" in svg and "polyline" not in svg


def test_data_uri_round_trips():
    svg = sparkline_svg([1.0, 2.0], title="a<b")
    uri = svg_data_uri(svg)
    assert uri.startswith("data:image/svg+xml;base64,")
    assert base64.b64decode(uri.split(",", 1)[1]).decode() == svg
    assert "<title>a&lt;b</title>" in svg
