"""Sparklines for the overview: a tiny inline SVG per characteristic.

An overview row per characteristic on a 1920x1080 screen can mean fifty charts refreshing every
few seconds; fifty Plotly graphs make the browser crawl, fifty small SVG images cost nothing.
The sparkline keeps what a glance needs: the trend, the control limits as a band, flagged points
in red, the last point emphasised.
"""

from __future__ import annotations

import math
from base64 import b64encode
from collections.abc import Sequence
from xml.sax.saxutils import escape

from dashboard.figures import theme


def _finite(values: Sequence[float | None]) -> list[float]:
    return [float(v) for v in values if v is not None and math.isfinite(float(v))]


def sparkline_svg(
    values: Sequence[float | None],
    *,
    flagged: Sequence[bool] | None = None,
    lcl: float | None = None,
    ucl: float | None = None,
    center: float | None = None,
    width: int = 180,
    height: int = 40,
    title: str | None = None,
) -> str:
    """An SVG document: polyline of ``values``, limit band, red dots on flagged points."""
    pad = 3.0
    finite = _finite(values)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img">'
    ]
    if title:
        parts.append(f"<title>{escape(title)}</title>")
    if not finite:
        parts.append(
            f'<line x1="{pad}" y1="{height / 2}" x2="{width - pad}" y2="{height / 2}" '
            f'stroke="{theme.GREY}" stroke-dasharray="3 3"/></svg>'
        )
        return "".join(parts)
    lo = min([*finite, *(v for v in (lcl, ucl) if v is not None)])
    hi = max([*finite, *(v for v in (lcl, ucl) if v is not None)])
    if hi == lo:
        hi, lo = hi + 1.0, lo - 1.0
    n = len(values)

    def sx(k: int) -> float:
        return pad + (width - 2 * pad) * (k / (n - 1) if n > 1 else 0.5)

    def sy(v: float) -> float:
        return height - pad - (height - 2 * pad) * (v - lo) / (hi - lo)

    if lcl is not None and ucl is not None:
        top, bottom = sy(ucl), sy(lcl)
        parts.append(
            f'<rect class="band" x="{pad}" y="{top:.1f}" width="{width - 2 * pad}" '
            f'height="{max(bottom - top, 0.5):.1f}" fill="rgba(27,127,59,0.10)"/>'
        )
    if center is not None:
        parts.append(
            f'<line class="center" x1="{pad}" y1="{sy(center):.1f}" x2="{width - pad}" '
            f'y2="{sy(center):.1f}" stroke="{theme.CENTER}" stroke-width="0.8" '
            'stroke-dasharray="2 2"/>'
        )
    coords = [
        f"{sx(k):.1f},{sy(float(v)):.1f}"
        for k, v in enumerate(values)
        if v is not None and math.isfinite(float(v))
    ]
    parts.append(
        f'<polyline fill="none" stroke="{theme.POINT}" stroke-width="1.4" '
        f'stroke-linejoin="round" points="{" ".join(coords)}"/>'
    )
    flags = list(flagged or [])
    for k, v in enumerate(values):
        if k < len(flags) and flags[k] and v is not None and math.isfinite(float(v)):
            parts.append(
                f'<circle class="flag" cx="{sx(k):.1f}" cy="{sy(float(v)):.1f}" r="2.6" '
                f'fill="{theme.BEYOND}"/>'
            )
    last = next((k for k in range(n - 1, -1, -1) if values[k] is not None), None)
    if last is not None:
        parts.append(
            f'<circle class="last" cx="{sx(last):.1f}" cy="{sy(float(values[last])):.1f}" r="2.8" '  # type: ignore[arg-type]
            f'fill="white" stroke="{theme.POINT}" stroke-width="1.4"/>'
        )
    parts.append("</svg>")
    return "".join(parts)


def svg_data_uri(svg: str) -> str:
    """For ``html.Img(src=...)``: Dash has no inline-SVG element, an image does the job."""
    return "data:image/svg+xml;base64," + b64encode(svg.encode()).decode()
