"""A small PNG of the last points with center and limits, for the e-mail's HTML part.

Drawn with matplotlib's object API on an Agg canvas (no pyplot): pyplot keeps global state
and is not safe from the worker's threads, a bare `Figure` is.
"""

from __future__ import annotations

import io
from collections.abc import Sequence


def chart_png(
    points: Sequence[float],
    *,
    center: float | None = None,
    lcl: float | None = None,
    ucl: float | None = None,
    width_px: int = 480,
    height_px: int = 180,
) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    dpi = 100
    fig = Figure(figsize=(width_px / dpi, height_px / dpi), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.09, 0.12, 0.89, 0.84))
    xs = list(range(len(points)))
    ax.plot(xs, list(points), color="#1f4e79", linewidth=1.2, marker="o", markersize=3)
    for level, style in ((center, "-"), (lcl, "--"), (ucl, "--")):
        if level is not None:
            ax.axhline(level, color="#666666" if style == "-" else "#c00000", linestyle=style, lw=1)
    out = [
        (x, y)
        for x, y in zip(xs, points, strict=True)
        if (ucl is not None and y > ucl) or (lcl is not None and y < lcl)
    ]
    if out:
        ax.scatter([x for x, _ in out], [y for _, y in out], color="#d70000", s=22, zorder=3)
    ax.tick_params(labelsize=7)
    ax.grid(True, linewidth=0.3, alpha=0.5)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()
