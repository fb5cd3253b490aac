"""deploy/collector.service: a valid systemd unit running `linewatch collect`, time to flush."""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "collector.service"


def _unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text())
    return parser


def test_unit_runs_the_collector_and_outlasts_its_flush() -> None:
    unit = _unit()
    service = unit["Service"]
    assert service["ExecStart"].endswith("linewatch collect --config /etc/linewatch/collector.toml")
    assert service["ExecStartPre"].endswith("--check")
    assert service["KillSignal"] == "SIGTERM"
    assert int(service["TimeoutStopSec"]) > 10 + 10  # flush (default 10 s) + sources stopping
    assert service["Restart"] == "always"
    assert service["StateDirectory"] == "linewatch/collector"
    assert "LINEWATCH_TOKEN" not in service.get("Environment", "")  # secrets from the env file
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def test_systemd_analyze_accepts_the_unit(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    linewatch = ROOT / ".venv" / "bin" / "linewatch"
    text = UNIT.read_text().replace("/opt/linewatch/.venv/bin/linewatch", str(linewatch))
    target = tmp_path / "linewatch-collector.service"
    target.write_text(text)
    if analyze is None:  # the structural checks above still ran
        assert "[Service]" in text
        return
    done = subprocess.run(
        [analyze, "verify", str(target)], capture_output=True, text=True, timeout=60
    )
    problems = [
        line
        for line in (done.stdout + done.stderr).splitlines()
        if "linewatch-collector.service" in line
    ]
    assert problems == [], problems
