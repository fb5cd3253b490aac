"""Colours and the base layout every figure shares, so screens read as one product.

Colour meaning is fixed across the dashboard: red = beyond the control limits (or a failing
index), amber = a run rule or a marginal index, green = in control / capable. The zone bands
follow the textbook A/B/C zones (Montgomery, *Introduction to SQC*, 8th ed., §5.3.6).
"""

from __future__ import annotations

from typing import Any

FONT = "Inter, 'Segoe UI', 'Noto Sans CJK SC', 'Noto Sans SC', 'Microsoft YaHei', sans-serif"

INK = "#1d2733"
MUTED = "#6b7785"
GRID = "#e6eaef"
POINT = "#1f4e79"
LINE = "#7f9bb8"
CENTER = "#1b7f3b"
LIMIT = "#c0392b"
SPEC = "#7b3fa0"
TARGET = "#1b7f3b"
VERSION = "#44505c"
BEYOND = "#d62728"
RUN_RULE = "#f28e1c"
ZONE_A = "rgba(214, 39, 40, 0.09)"
ZONE_B = "rgba(242, 142, 28, 0.11)"
ZONE_C = "rgba(27, 127, 59, 0.10)"
PHASE1 = "rgba(31, 78, 121, 0.05)"
BAR = "#4f7cac"
SCRAP = "#b83b3b"
REWORK = "#e0a030"
FPY = "#1b7f3b"
PPM = "#b83b3b"
CUMULATIVE = "#d9534f"

GREEN = "#1e9e4a"
AMBER = "#e8a317"
RED = "#d62728"
GREY = "#9aa5b1"

# Qualitative palette for groups (lines, products): colour-blind friendly (Tableau 10).
PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
)

# Rules that mean "beyond the control limits"; everything else is a run (pattern) rule.
BEYOND_RULES = frozenset({"WE1", "N1", "EWMA", "CUSUM", "UCL", "LCL"})


def base_layout(*, height: int | None = None, **extra: Any) -> dict[str, Any]:
    """Layout keys shared by every figure: white, compact margins, one font, no wasted title."""
    layout: dict[str, Any] = {
        "template": "plotly_white",
        "font": {"family": FONT, "size": 13, "color": INK},
        "margin": {"l": 64, "r": 24, "t": 36, "b": 40},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "#ffffff",
        "hoverlabel": {"font": {"family": FONT, "size": 13}, "align": "left"},
        "legend": {
            "orientation": "h",
            "yanchor": "bottom",
            "y": 1.01,
            "xanchor": "right",
            "x": 1.0,
            "font": {"size": 12},
            "bgcolor": "rgba(255,255,255,0.6)",
        },
    }
    if height is not None:
        layout["height"] = height
    layout.update(extra)
    return layout


def axis_style() -> dict[str, Any]:
    return {
        "gridcolor": GRID,
        "zeroline": False,
        "linecolor": "#c9d1da",
        "showline": True,
        "ticks": "outside",
        "tickcolor": "#c9d1da",
    }


def cpk_colour(cpk: float | None) -> str:
    """The Cpk colour bands of the overview: < 1.0 red, < 1.33 amber, >= 1.33 green.

    1.33 is the usual minimum for an existing process (AIAG SPC manual, 2nd ed., and
    Montgomery table 8.2); below 1.0 the process makes out-of-spec parts even when centred.
    """
    if cpk is None or cpk != cpk:  # None or NaN
        return GREY
    if cpk < 1.0:
        return RED
    if cpk < 1.33:
        return AMBER
    return GREEN


def cpk_band(cpk: float | None) -> str:
    """Band name for CSS classes and tests: ``red``, ``amber``, ``green`` or ``none``."""
    return {RED: "red", AMBER: "amber", GREEN: "green"}.get(cpk_colour(cpk), "none")
