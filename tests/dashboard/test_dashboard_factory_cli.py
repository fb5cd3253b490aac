"""The app factory (no globals, routes registered) and the ``linewatch dashboard`` command."""

from __future__ import annotations

import subprocess
import sys

import pytest

from dashboard import create_app
from dashboard.settings import DashboardSettings


def test_two_apps_are_independent_and_carry_their_settings():
    a = create_app("http://127.0.0.1:1", chart_refresh_ms=500)
    b = create_app("http://127.0.0.1:2", url_base_pathname="/dashboard/")
    assert a is not b and a.server is not b.server
    assert a.config.url_base_pathname == "/" and b.config.url_base_pathname == "/dashboard/"
    outputs = " ".join(a.callback_map)
    for component in (
        "page.children",
        "cc-graph.figure",
        "al-active.children",
        "lm-history.children",
        "qc-pareto.figure",
        "ks-graph.figure",
    ):
        assert component in outputs


def test_mounted_under_a_stripped_prefix_serves_routes_at_root_and_links_with_prefix():
    app = create_app("http://127.0.0.1:1", mounted_at="/dashboard/")
    client = app.server.test_client()
    index = client.get("/")
    assert index.status_code == 200
    assert b'src="/dashboard/assets/linewatch.js' in index.data  # the browser asks the prefix
    assert client.get("/_dash-layout").status_code == 200
    layout = str(client.get("/_dash-layout").get_json())
    assert "'href': '/dashboard/'" in layout  # the brand link back to the overview


def test_index_page_served_with_assets():
    app = create_app("http://127.0.0.1:1")
    client = app.server.test_client()
    index = client.get("/")
    assert index.status_code == 200
    assert b"linewatch.css" in index.data and b"linewatch.js" in index.data
    layout = client.get("/_dash-layout").get_json()
    assert "session" in str(layout) and "lang-toggle" in str(layout)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"api_url": "ftp://x"},
        {"default_lang": "fr"},
        {"chart_refresh_ms": 10},
        {"timezone": "Mars/Base"},
    ],
)
def test_settings_reject_bad_values(kwargs):
    with pytest.raises((ValueError, KeyError)):
        DashboardSettings(**kwargs)


def test_cli_module_does_not_import_dash():
    code = (
        "import sys, dashboard.cli; "
        "assert 'dash' not in sys.modules and 'plotly' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "0"], "--port"),
        (["--api-url", "nope"], "api_url"),
        (["--lang", "fr"], "default_lang"),
    ],
)
def test_cli_bad_input_one_line_exit_2(args, message):
    proc = subprocess.run(
        [sys.executable, "-m", "linewatch", "dashboard", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in proc.stderr
