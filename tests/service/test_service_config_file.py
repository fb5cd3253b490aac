"""The declarative `linewatch.toml`, including the commented example shipped in deploy/."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from service_helpers import SECRET, LiveServer, make_settings

from service.config_file import ConfigError, apply_config, read_config
from service.storage import open_store

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "linewatch.example.toml"

CONFIG = """
[alarm_codes]
causes = ["tool-wear", "other"]
actions = ["tool-changed", "none"]

[[site]]
key = "p1"
name = "Plant 1"

[[line]]
key = "l1"
site = "p1"
name = "Line 1"
area = "Machining"

[[station]]
key = "l1.op20"
line = "l1"
name = "OP20"

[[characteristic]]
key = "l1.op20.bore"
name = "Bore"
station = "l1.op20"
chart = "xbar-r"
subgroup_size = 5
lsl = 73.95
usl = 74.05

[characteristic.limits]
center = 74.0
sigma = 0.01

# owned by the alerting part: skipped by the characteristics loader
[alerting]
"""


def test_example_config_is_valid() -> None:
    config = read_config(EXAMPLE)
    assert config.characteristic, "the example should show at least one characteristic"


def test_config_is_applied_at_start_and_reapplied_idempotently(
    database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "linewatch.toml"
    path.write_text(CONFIG)
    server = LiveServer(make_settings(database_url, config_file=path)).start()
    try:
        api = server.client("admin")
        char = api.get("/api/v1/characteristics/l1.op20.bore").json()
        assert (char["site"], char["line"], char["station"]) == ("p1", "l1", "l1.op20")
        assert char["current_limit_version"] == 1
        codes = api.get("/api/v1/alarm-codes").json()
        assert codes == {"causes": ["tool-wear", "other"], "actions": ["tool-changed", "none"]}
        audit = api.get("/api/v1/audit", params={"key": "l1.op20.bore"}).json()
        assert audit[-1]["actor"] == "config:linewatch.toml"
    finally:
        server.stop()
    path.write_text(CONFIG.replace("usl = 74.05", "usl = 74.06"))
    store = open_store(make_settings(database_url))
    try:
        applied = apply_config(store, path)
        assert applied.updated == ["characteristic:l1.op20.bore"] and applied.created == []
        assert apply_config(store, path).updated == []
    finally:
        store.close()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[characteristic]]\nkey = 'k'\nname = 'k'\nchart = 'imr'\ncolour = 'red'\n", "colour"),
        ("[[charactersitic]]\nkey = 'k'\n", "charactersitic"),
        ("[[characteristic]]\nkey = 'k'\nname = 'k'\nchart = 'imr'\nstation = 'nope'\n", "nope"),
        ("this is = not toml [", "linewatch.toml"),
    ],
)
def test_invalid_config_is_refused_with_a_useful_message(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "linewatch.toml"
    path.write_text(text)
    store = open_store(make_settings(f"sqlite:///{tmp_path / 'db.sqlite'}"))
    try:
        with pytest.raises(ConfigError, match=message):
            apply_config(store, path)
        with store.transaction(readonly=True) as tx:
            assert store.repo.list_characteristics(tx) == []
    finally:
        store.close()


def test_serve_refuses_to_start_on_a_bad_config(tmp_path: Path) -> None:
    (tmp_path / "linewatch.toml").write_text("[[characteristic]]\nkey = 'k'\n")
    done = subprocess.run(
        [sys.executable, "-m", "linewatch", "serve", "--port", "1"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "LINEWATCH_SECRET_KEY": SECRET},
    )
    assert done.returncode == 2
    assert "linewatch.toml" in done.stderr and "name" in done.stderr
    assert "Traceback" not in done.stderr
