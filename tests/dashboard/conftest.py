"""Fixtures of the dashboard tests: sample API answers (shaped like the service's JSON) for the
pure-function tests, and for the browser tests a real stack - ``linewatch serve`` on SQLite with a
seeded plant, ``linewatch dashboard`` against it, and Debian's headless Chromium."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


def iso(k: int, minutes: int = 1) -> str:
    return (T0 + timedelta(minutes=k * minutes)).isoformat().replace("+00:00", "Z")


def make_chart(
    n: int = 30,
    *,
    kind: str = "xbar-r",
    center: float = 74.0,
    sigma_stat: float = 0.004,
    flagged: dict[int, list[str]] | None = None,
    version_from: dict[int, int] | None = None,
    stat: Callable[[int], float] | None = None,
    sizes: Callable[[int], int] | None = None,
    dispersion: bool = True,
    disp_flagged: dict[int, list[str]] | None = None,
) -> dict[str, Any]:
    """A chart JSON of ``n`` points with constant limits (center ± 3·sigma_stat) unless
    ``sizes`` varies the subgroup size (limits then scale with 1/√n)."""
    flagged = flagged or {}
    disp_flagged = disp_flagged or {}
    versions = sorted((version_from or {0: 1}).items())
    points, disp = [], []
    for i in range(n):
        size = sizes(i) if sizes else 5
        s = sigma_stat * (5 / size) ** 0.5
        version = max(v for start, v in versions if start <= i)
        value = stat(i) if stat else center + s * (0.5 if i % 2 else -0.5)
        points.append(
            {
                "i": i,
                "n": size,
                "stat": value,
                "lcl": center - 3 * s,
                "ucl": center + 3 * s,
                "violations": flagged.get(i, []),
                "ts": iso(i),
                "lot": f"L{i // 10:03d}",
                "limit_version": version,
                "alarm_id": 7 if flagged.get(i) else None,
            }
        )
        disp.append(
            {
                "i": i,
                "n": size,
                "stat": 0.01 + 0.001 * (i % 3),
                "lcl": 0.0,
                "ucl": 0.021,
                "violations": disp_flagged.get(i, []),
                "ts": iso(i),
                "limit_version": version,
            }
        )
    chart: dict[str, Any] = {
        "chart": kind,
        "key": "line1.op20.bore",
        "center": center,
        "sigma": sigma_stat * 5**0.5,
        "rules": "western-electric",
        "points": points,
    }
    if dispersion:
        chart["dispersion"] = {"chart": "r", "center": 0.0093, "points": disp}
    return chart


CHARACTERISTIC = {
    "key": "line1.op20.bore",
    "name": "Bore diameter",
    "unit": "mm",
    "chart": "xbar-r",
    "subgroup_size": 5,
    "lsl": 73.95,
    "usl": 74.05,
    "target": 74.0,
    "line": "line1",
    "station": "op20",
    "rules": "western-electric",
}


@pytest.fixture
def chart_factory() -> Callable[..., dict[str, Any]]:
    return make_chart


@pytest.fixture
def characteristic() -> dict[str, Any]:
    return dict(CHARACTERISTIC)


# --- browser tests: a real service, the dashboard, headless Chromium ------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
NAMES = {"operator": "olga", "engineer": "erik", "manager": "mia", "admin": "ada"}


@dataclass
class Stack:
    api_url: str
    dash_url: str
    tokens: dict[str, str]
    seed: dict[str, Any]

    def api(self, role: str = "admin") -> httpx.Client:
        return httpx.Client(
            base_url=self.api_url,
            headers={"Authorization": f"Bearer {self.tokens[role]}"},
            timeout=10.0,
        )


def free_port() -> int:
    """A loopback port nobody listens on (as tests/conftest.py's helper)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{url}: process exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail(f"{url} not ready after {timeout} s:\n{log.read_text()[-3000:]}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@pytest.fixture(scope="session")
def lw_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """``linewatch serve`` on SQLite with seeded data, and ``linewatch dashboard`` against it."""
    from lw_plant_seed import seed_plant

    work = tmp_path_factory.mktemp("lw_browser")
    db = f"sqlite:///{work / 'linewatch.db'}"
    env = {
        **os.environ,
        "LINEWATCH_SECRET_KEY": secrets.token_urlsafe(32),
        "LINEWATCH_DATABASE_URL": db,
    }
    env.pop("LINEWATCH_API_URL", None)
    tokens = {}
    for role, name in NAMES.items():
        out = subprocess.run(
            [sys.executable, "-m", "linewatch", "token", "create", "--role", role, "--name", name],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        tokens[role] = out.stdout.strip()
    api_port, dash_port = free_port(), free_port()
    api_log, dash_log = work / "service.log", work / "dashboard.log"
    service = subprocess.Popen(
        [sys.executable, "-m", "linewatch", "serve", "--port", str(api_port)],
        cwd=work,
        env=env,
        stdout=api_log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    procs = [service]
    try:
        api_url = f"http://127.0.0.1:{api_port}"
        _wait_http(f"{api_url}/health", service, api_log)
        seed = seed_plant(api_url, tokens)
        dash = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "linewatch",
                "dashboard",
                "--api-url",
                api_url,
                "--port",
                str(dash_port),
                "--timezone",
                "UTC",
            ],
            cwd=work,
            env=env,
            stdout=dash_log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        procs.append(dash)
        dash_url = f"http://127.0.0.1:{dash_port}"
        _wait_http(f"{dash_url}/", dash, dash_log)
        yield Stack(api_url=api_url, dash_url=dash_url, tokens=tokens, seed=seed)
    finally:
        for proc in reversed(procs):
            _stop(proc)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (Debian's build)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Browser:
    """One browser context (its own session storage) per test, signed in as a role."""

    def __init__(self, chromium: Any, stack: Stack) -> None:
        self.stack = stack
        self.context = chromium.new_context(
            viewport={"width": 1920, "height": 1080}, accept_downloads=True
        )
        self.context.set_default_timeout(15_000)
        self.errors: list[str] = []

    def page(self, role: str | None = None, path: str = "/") -> Any:
        page = self.context.new_page()
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.on(
            "console",
            lambda msg: self.errors.append(f"console: {msg.text}") if msg.type == "error" else None,
        )
        page.goto(self.stack.dash_url + "/")
        if role is not None:
            page.fill("#login-token", self.stack.tokens[role])
            page.click("#login-submit")
            page.wait_for_selector(f".role-{role}")
            if path != "/":
                page.goto(self.stack.dash_url + path)
        return page

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def browser(chromium: Any, lw_stack: Stack) -> Iterator[Browser]:
    b = Browser(chromium, lw_stack)
    yield b
    b.close()
    assert not b.errors, "browser errors:\n" + "\n".join(b.errors)


def screenshot(page: Any, name: str) -> Path:
    """Save the page as docs/screenshots/<name>.png (1920x1080, linked from the README)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.wait_for_timeout(400)  # let transitions (dropdowns, pulsing lights) settle
    page.screenshot(path=str(path))
    return path


@pytest.fixture(scope="session")
def lw_quality(lw_stack: Stack) -> dict[str, Any]:
    """Defect codes, a cost model, good units and defects in the stack's service (the
    quality-cost API); seeded on first use so that only the tests needing it depend on it."""
    from lw_plant_seed import seed_quality

    return seed_quality(lw_stack.api_url, lw_stack.tokens)
