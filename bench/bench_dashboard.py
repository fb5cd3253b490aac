"""The dashboard's chart of 100,000 points: service answer, figure building, browser drawing.

    .venv/bin/python bench/bench_dashboard.py [--points 100000] [--repeat 5] [--no-browser]

Starts ``linewatch serve`` (SQLite, temporary directory) and ``linewatch dashboard``, loads an
I-MR characteristic with ``--points`` values (limits from the first 200, a few shifts so that
rules fire), then times, each against a peer in the same run:

* the chart request the dashboard makes (``max_points=2000``: the service keeps min/max per
  bucket and every flagged point) against the full answer;
* building the figure: the dashboard's plain-dict builder against the same figure through
  ``plotly.graph_objects`` (which validates every property);
* the dashboard's own thinning of a full answer (its safety net when a service sends too much);
* in headless Chromium: switching the chart page's window to "All" (callback round trip and
  drawing, the user-visible answer; target < 500 ms) against ``Plotly.newPlot`` of the full
  100,000-point figure in the same page.

Times are the best of N runs (least disturbed by other load); the load average is printed, the
machine may be shared.
"""

from __future__ import annotations

import argparse
import math
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np

KEY = "bench.line.x"
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def best_of(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    best, result = math.inf, None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def wait_http(url: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} not ready after {timeout} s")


def load(api: httpx.Client, points: int) -> None:
    auth = api.headers
    api.post(
        "/api/v1/characteristics",
        json={
            "key": KEY,
            "name": "Bench",
            "unit": "mm",
            "chart": "imr",
            "subgroup_size": 1,
            "lsl": 9.0,
            "usl": 11.0,
            "rules": "western-electric",
        },
        headers=auth,
    ).raise_for_status()
    rng = np.random.default_rng(7)
    values = rng.normal(10.0, 0.1, points)
    for start in range(points // 10, points, points // 5):  # a few shifts: rules fire
        values[start : start + 40] += 0.35
    t0 = time.time() - points  # one value per second, ending now
    records = [
        {
            "characteristic": KEY,
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t0 + k)) + "Z",
            "value": float(v),
            "source": "bench",
            "seq": k,
        }
        for k, v in enumerate(values)
    ]
    first = records[:200]
    api.post("/api/v1/measurements", json={"measurements": first}).raise_for_status()
    proposal = api.post(
        f"/api/v1/characteristics/{KEY}/limits",
        json={"from": first[0]["ts"], "to": records[200]["ts"]},
    ).json()
    api.post(
        f"/api/v1/characteristics/{KEY}/limits/{proposal['version']}/approve", json={}
    ).raise_for_status()
    for k in range(200, points, 20_000):
        api.post(
            "/api/v1/measurements", json={"measurements": records[k : k + 20_000]}, timeout=300
        ).raise_for_status()


def browser_times(
    dash_url: str, token: str, full_figure: dict[str, Any], repeat: int
) -> tuple[float, float]:
    """(best time from clicking "All" to the redrawn chart, best Plotly.newPlot of all points)."""
    from playwright.sync_api import sync_playwright

    first_x = (
        "() => { const gd = document.querySelector('#cc-graph .js-plotly-plot');"
        " const s = gd && gd.data && gd.data.find(t => t.meta === 'series');"
        " return s ? String(s.x[0]) : null; }"
    )
    changed = (
        "(before) => { const gd = document.querySelector('#cc-graph .js-plotly-plot');"
        " const s = gd && gd.data && gd.data.find(t => t.meta === 'series');"
        " return !!s && String(s.x[0]) !== before && !!gd._fullLayout; }"
    )
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1920, "height": 1080})
        page.goto(dash_url + "/")
        page.fill("#login-token", token)
        page.click("#login-submit")
        page.wait_for_selector(".user-name")
        page.goto(f"{dash_url}/chart/{KEY}?window=1h")
        page.wait_for_function(changed, arg="none", timeout=120_000)
        best_switch = math.inf
        for k in range(2 * repeat):
            label = "All" if k % 2 == 0 else "1 h"
            before = page.evaluate(first_x)
            start = time.perf_counter()
            page.click(f"text={label}")
            page.wait_for_function(changed, arg=before, polling=10, timeout=60_000)
            if label == "All":
                best_switch = min(best_switch, time.perf_counter() - start)
        page.evaluate(
            "() => { const d = document.createElement('div'); d.id = 'peer';"
            " d.style.width = '1300px'; d.style.height = '800px'; document.body.appendChild(d); }"
        )
        best_full = math.inf
        for _ in range(max(1, repeat // 2)):
            ms = page.evaluate(
                "async (f) => { const t = performance.now();"
                " await Plotly.newPlot('peer', f.data, f.layout); return performance.now() - t; }",
                full_figure,
            )
            best_full = min(best_full, ms / 1000)
        browser.close()
    return best_switch, best_full


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-browser", action="store_true")
    opts = parser.parse_args()

    import plotly.graph_objects as go

    from dashboard.figures.control_chart import control_chart_figure
    from dashboard.figures.downsample import downsample_chart

    work = Path(tempfile.mkdtemp(prefix="lw-bench-"))
    env = {
        **os.environ,
        "LINEWATCH_SECRET_KEY": secrets.token_urlsafe(32),
        "LINEWATCH_DATABASE_URL": f"sqlite:///{work / 'bench.db'}",
    }
    token = subprocess.run(
        [
            sys.executable,
            "-m",
            "linewatch",
            "token",
            "create",
            "--role",
            "engineer",
            "--name",
            "bench",
        ],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    api_port, dash_port = free_port(), free_port()
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "linewatch", "serve", "--port", str(api_port)],
            cwd=work,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    try:
        api_url = f"http://127.0.0.1:{api_port}"
        wait_http(f"{api_url}/health")
        api = httpx.Client(
            base_url=api_url, headers={"Authorization": f"Bearer {token}"}, timeout=120
        )
        t = time.perf_counter()
        load(api, opts.points)
        print(
            f"loaded {opts.points:,} points in {time.perf_counter() - t:.1f} s; "
            f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
        )
        path = f"/api/v1/characteristics/{KEY}/chart"
        thin_s, thin = best_of(
            lambda: api.get(path, params={"max_points": 2000}).json(), opts.repeat
        )
        full_s, full = best_of(lambda: api.get(path).json(), max(1, opts.repeat // 2))
        char = api.get(f"/api/v1/characteristics/{KEY}").json()
        fig_s, _ = best_of(lambda: control_chart_figure(thin, characteristic=char), opts.repeat)
        go_s, _ = best_of(
            lambda: go.Figure(control_chart_figure(thin, characteristic=char)), opts.repeat
        )
        ds_s, _ = best_of(lambda: downsample_chart(full, 2000), opts.repeat)
        flagged_full = sum(1 for p in full["points"] if p["violations"])
        flagged_thin = sum(1 for p in thin["points"] if p["violations"])
        assert flagged_thin == flagged_full, "thinning lost flagged points"
        rows = [
            (
                "chart answer, max_points=2000 (what the dashboard asks)",
                thin_s,
                f"{len(thin['points']):,} points",
            ),
            ("chart answer, all points (peer)", full_s, f"{len(full['points']):,} points"),
            ("figure: dashboard dict builder", fig_s, ""),
            ("figure: same through plotly.graph_objects (peer)", go_s, ""),
            (
                "dashboard thinning of the full answer",
                ds_s,
                f"flagged kept {flagged_thin}/{flagged_full}",
            ),
        ]
        if not opts.no_browser and Path(CHROMIUM).exists():
            dash_url = f"http://127.0.0.1:{dash_port}"
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "linewatch",
                        "dashboard",
                        "--api-url",
                        api_url,
                        "--port",
                        str(dash_port),
                    ],
                    cwd=work,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            wait_http(f"{dash_url}/")
            switch_s, newplot_s = browser_times(
                dash_url, token, control_chart_figure(full, characteristic=char), opts.repeat
            )
            rows.append(("browser: window -> All, request + draw (target < 0.5 s)", switch_s, ""))
            rows.append(("browser: Plotly.newPlot of all 100k points (peer)", newplot_s, ""))
        print("| step | best time | note |\n| --- | ---: | --- |")
        for name, seconds, note in rows:
            print(f"| {name} | {seconds * 1000:,.0f} ms | {note} |")
        print(
            f"ratios: answer full/thin {full_s / thin_s:.1f}x, "
            f"graph_objects/dict {go_s / fig_s:.1f}x"
            + (
                f", newPlot full / dashboard switch {rows[-1][1] / rows[-2][1]:.1f}x"
                if len(rows) > 5
                else ""
            )
        )
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)


if __name__ == "__main__":
    main()
