"""Histogram of individual values against the specification, with fitted normal curves.

Two curves, because they answer two questions: the normal with the *within* sigma is what Cp/Cpk
assume (short-term, the chart's sigma); the one with the *overall* sigma is what Pp/Ppk assume
(long-term spread, AIAG SPC manual 2nd ed., ch. IV). A wide gap between them says the process
drifts between subgroups. Curves are scaled to counts: ``n * bin_width * pdf``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from dashboard.figures import theme
from dashboard.figures.control_chart import Figure, fmt
from dashboard.i18n import t

MAX_BINS = 60


def bin_edges(values: np.ndarray, bins: int | None = None) -> np.ndarray:
    """Numpy's ``auto`` rule (max of Sturges and Freedman-Diaconis), capped for readability."""
    if bins is not None:
        return np.histogram_bin_edges(values, bins=bins)
    edges = np.histogram_bin_edges(values, bins="auto")
    if len(edges) - 1 > MAX_BINS:
        edges = np.histogram_bin_edges(values, bins=MAX_BINS)
    return edges


def normal_curve(
    mean: float, sigma: float, lo: float, hi: float, scale: float, points: int = 200
) -> tuple[list[float], list[float]]:
    """Normal density on [lo, hi] times ``scale`` (= n * bin width)."""
    if not (sigma > 0 and math.isfinite(sigma)):
        return [], []
    xs = np.linspace(lo, hi, points)
    ys = scale * np.exp(-0.5 * ((xs - mean) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))
    return xs.tolist(), ys.tolist()


def vline(
    x: float, colour: str, dash: str, name: str, text: str | None = None
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    shape = {
        "type": "line",
        "xref": "x",
        "x0": x,
        "x1": x,
        "yref": "y domain",
        "y0": 0,
        "y1": 1,
        "line": {"color": colour, "width": 1.6 if text else 1, "dash": dash},
        "name": name,
    }
    if text is None:
        return shape, None
    note = {
        "xref": "x",
        "x": x,
        "yref": "y domain",
        "y": 1,
        "yanchor": "bottom",
        "text": text,
        "showarrow": False,
        "font": {"color": colour, "size": 11},
    }
    return shape, note


def histogram_figure(
    values: Sequence[float],
    *,
    capability: Mapping[str, Any] | None = None,
    lsl: float | None = None,
    usl: float | None = None,
    target: float | None = None,
    bins: int | None = None,
    unit: str | None = None,
    lang: str = "en",
    height: int | None = None,
) -> Figure:
    data = np.asarray([v for v in values if v is not None], dtype=float)
    data = data[np.isfinite(data)]
    capability = capability or {}
    traces: list[dict[str, Any]] = []
    shapes: list[dict[str, Any]] = []
    notes: list[dict[str, Any]] = []
    xaxis: dict[str, Any] = {**theme.axis_style(), "ticksuffix": f" {unit}" if unit else ""}
    if data.size:
        edges = bin_edges(data, bins)
        counts, _ = np.histogram(data, bins=edges)
        width = float(edges[1] - edges[0]) if len(edges) > 1 else 1.0
        centres = (edges[:-1] + edges[1:]) / 2
        out_of_spec = np.zeros(len(counts), dtype=bool)
        if lsl is not None:
            out_of_spec |= centres < lsl
        if usl is not None:
            out_of_spec |= centres > usl
        traces.append(
            {
                "type": "bar",
                "x": centres.tolist(),
                "y": counts.tolist(),
                "width": width * 0.95,
                "marker": {
                    "color": [theme.BEYOND if o else theme.BAR for o in out_of_spec],
                    "line": {"width": 0},
                },
                "opacity": 0.85,
                "name": t(lang, "fig.values"),
                "hovertemplate": "%{x:.5g}: %{y}<extra></extra>",
                "meta": "bins",
            }
        )
        mean = float(capability.get("mean", data.mean()))
        overall = capability.get("sigma_overall")
        if overall is None:
            overall = float(data.std(ddof=1)) if data.size > 1 else 0.0
        within = capability.get("sigma_within")
        span = [
            float(data.min()),
            float(data.max()),
            *(float(v) for v in (lsl, usl) if v is not None),
        ]
        pad = 0.08 * (max(span) - min(span) or 1.0)
        lo, hi = min(span) - pad, max(span) + pad
        for sigma, name_key, dash, tag, colour in (
            (within, "fig.normal_within", "solid", "normal-within", theme.INK),
            (overall, "fig.normal_overall", "dash", "normal-overall", theme.MUTED),
        ):
            if sigma is None:
                continue
            cx, cy = normal_curve(mean, float(sigma), lo, hi, data.size * width)
            if cx:
                traces.append(
                    {
                        "type": "scatter",
                        "x": cx,
                        "y": cy,
                        "mode": "lines",
                        "line": {"color": colour, "width": 2, "dash": dash},
                        "name": t(lang, name_key),
                        "hoverinfo": "skip",
                        "meta": tag,
                    }
                )
        shapes.append(vline(mean, theme.POINT, "dot", "mean")[0])
        xaxis["range"] = [lo, hi]
    for key, value, colour, dash in (
        ("LSL", lsl, theme.SPEC, "dashdot"),
        ("USL", usl, theme.SPEC, "dashdot"),
        ("T", target, theme.TARGET, "dot"),
    ):
        if value is None:
            continue
        shape, note = vline(float(value), colour, dash, key.lower(), f"{key} {fmt(value)}")
        shapes.append(shape)
        if note:
            notes.append(note)
    layout = theme.base_layout(
        height=height, bargap=0.02, margin={"l": 48, "r": 16, "t": 28, "b": 84}
    )
    layout["legend"] = {
        **layout["legend"],
        "yanchor": "top",
        "y": -0.24,
        "x": 0.5,
        "xanchor": "center",
    }
    layout.update(
        shapes=shapes,
        annotations=notes,
        xaxis=xaxis,
        yaxis={**theme.axis_style(), "title": {"text": t(lang, "fig.values")}},
    )
    return {"data": traces, "layout": layout}
