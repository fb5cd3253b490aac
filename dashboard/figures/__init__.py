"""Pure figure builders: plain dicts shaped like the API's JSON in, Plotly figures (or SVG) out.

No I/O and no Dash here, so each builder is unit-tested on its traces, colours and shapes.
"""

from __future__ import annotations

from dashboard.figures.control_chart import control_chart_figure
from dashboard.figures.downsample import downsample_chart
from dashboard.figures.histogram import histogram_figure
from dashboard.figures.quality import cost_trend_figure, pareto_figure, yield_figure
from dashboard.figures.sparkline import sparkline_svg, svg_data_uri
from dashboard.figures.theme import cpk_band, cpk_colour

__all__ = [
    "control_chart_figure",
    "cost_trend_figure",
    "cpk_band",
    "cpk_colour",
    "downsample_chart",
    "histogram_figure",
    "pareto_figure",
    "sparkline_svg",
    "svg_data_uri",
    "yield_figure",
]
