"""`linewatch chart` starts fast: a deterministic proxy for the 0.3 s budget (ARCHITECTURE "CLI
chart contract", STYLE "No import-time side effects").

Wall time flakes on a loaded machine, so these tests look at what a chart run imports instead:
none of the heavy libraries (scipy alone is 0.3 s, pydantic 0.1 s) and none of the other parts,
whose modules the root loads only when one of their commands runs. bench/ has no timing for it;
measure with `python -X importtime` and `/usr/bin/time -f %U+%S`.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from linewatch.cli import PARTS, app

DATA = Path(__file__).parents[1] / "data"

HEAVY = (
    "scipy", "pandas", "fastapi", "starlette", "uvicorn", "dash", "plotly", "asyncua", "paho",
    "pydantic", "httpx", "sqlalchemy", "psycopg", "structlog",
    "service", "collector", "dashboard",  # the other parts' modules
)  # fmt: skip

# Runs the real entry point and reports, at exit, which of the modules named in argv[1] got loaded.
WRAPPER = """
import atexit, json, sys
watched = json.loads(sys.argv[1])
atexit.register(lambda: sys.stderr.write(
    "LOADED " + json.dumps(sorted(m for m in watched if m in sys.modules)) + "\\n"))
sys.argv = ["linewatch", *sys.argv[2:]]
from linewatch.cli import main
main()
"""

CHARTS = {
    "imr": ["viscosity.csv", "--value", "viscosity", "--phase1", "20"],
    "xbar-r": ["pistonrings.csv", "--value", "diameter", "--subgroup", "sample", "--phase1", "25"],
    "xbar-s": ["pistonrings.csv", "--value", "diameter", "--subgroup-size", "5"],
    "p": ["orangejuice.csv", "--count", "D", "--size", "size", "--phase1", "30"],
    "np": ["orangejuice.csv", "--count", "D", "--size", "size"],
    "c": ["circuit.csv", "--count", "x", "--phase1", "26"],
    "u": ["dyedcloth.csv", "--count", "x", "--size", "size"],
    "ewma": ["viscosity.csv", "--value", "viscosity", "--phase1", "20"],
    "cusum": ["viscosity.csv", "--value", "viscosity", "--phase1", "20"],
}


def loaded_by(*args: str, watched: tuple[str, ...] = HEAVY) -> tuple[list[str], str]:
    """(watched modules loaded, stdout) of `linewatch ARGS` in a fresh interpreter."""
    proc = subprocess.run(
        [sys.executable, "-c", WRAPPER, json.dumps(watched), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=DATA,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("LOADED ")]
    assert len(lines) == 1, proc.stderr
    loaded: list[str] = json.loads(lines[0].removeprefix("LOADED "))
    return loaded, proc.stdout


@pytest.mark.parametrize("kind", list(CHARTS))
def test_json_chart_imports_nothing_heavy(kind: str) -> None:
    loaded, stdout = loaded_by(
        "chart", *CHARTS[kind], "--type", kind, "--format", "json", watched=(*HEAVY, "rich")
    )
    assert json.loads(stdout)["chart"] == kind  # the chart really ran
    assert loaded == []


def test_table_chart_imports_rich_but_nothing_heavy() -> None:
    loaded, stdout = loaded_by(
        "chart", *CHARTS["xbar-r"], "--type", "xbar-r", watched=(*HEAVY, "rich")
    )
    assert "violations" in stdout
    assert loaded == ["rich"]


def test_specs_bring_scipy_for_capability_only() -> None:
    loaded, stdout = loaded_by(
        "chart", *CHARTS["xbar-r"], "--type", "xbar-r", "--lsl", "73.95", "--usl", "74.05",
        "--format", "json",
    )  # fmt: skip
    assert "ci95" in json.loads(stdout)["capability"]
    assert loaded == ["scipy"]


def test_each_part_registers_exactly_the_commands_the_root_routes_to_it() -> None:
    """`PARTS` in linewatch/cli.py must name every command of every part: a command missing
    there still runs, but only after every part has been imported (slow)."""
    for module_name, names in PARTS.items():
        module = __import__(module_name, fromlist=["register"])
        part = typer.Typer()
        module.register(part)
        registered = tuple(typer.main.get_group(part).commands)
        assert registered == names, f"update PARTS[{module_name!r}] in linewatch/cli.py"


def test_help_lists_every_command_of_every_part() -> None:
    expected = [name for names in PARTS.values() for name in names]
    group = typer.main.get_command(app)
    assert group.list_commands(typer.Context(group)) == expected  # type: ignore[attr-defined]
    result = CliRunner().invoke(app, ["--help"], terminal_width=200)
    assert result.exit_code == 0, result.stderr
    for name in expected:
        assert re.search(rf"^│ {re.escape(name)} ", result.stdout, re.MULTILINE), name


def test_a_command_of_another_part_loads_that_part_only() -> None:
    loaded, stdout = loaded_by("db", "--help", watched=("service", "collector", "dashboard"))
    assert "Database schema" in stdout
    assert loaded == ["service"]


def test_unknown_command_still_suggests_from_every_part() -> None:
    result = CliRunner().invoke(app, ["dashbord"])
    assert result.exit_code == 2
    assert "dashboard" in result.stderr
