"""The collector config: strict keys with line numbers, defaults, the example file, --check."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from collector.config import (
    CollectorConfig,
    ConfigError,
    MqttSourceConfig,
    OpcuaSourceConfig,
    SparkplugSourceConfig,
    load_config,
    parse_config,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "deploy" / "collector.example.toml"

MINIMAL = """
[[mqtt]]
  [[mqtt.topics]]
  topic = "plant/+/+/bore"
  characteristic = "{1}.{2}.bore"
"""


def _error(text: str) -> str:
    with pytest.raises(ConfigError) as exc:
        parse_config(text, "c.toml")
    return str(exc.value)


def test_minimal_config_gets_documented_defaults() -> None:
    cfg = parse_config("[collector]\nname = 'edge1'\n" + MINIMAL)
    assert cfg.sink.batch_size == 1000 and cfg.sink.batch_wait_ms == 200
    assert cfg.sink.compression == "gzip"
    assert cfg.buffer.when_full == "stop-acknowledging"
    assert cfg.buffer.synchronous == "normal"
    m = cfg.mqtt[0]
    assert m.name == "mqtt-1" and m.client_id == "linewatch-edge1-mqtt-1"
    assert m.qos == 1 and m.protocol == "5" and m.session_expiry_seconds == 7 * 24 * 3600
    assert m.topics[0].timestamp == "payload" and m.topics[0].scale == 1.0


def test_unknown_key_names_key_and_line() -> None:
    text = MINIMAL + "  scael = 2.0\n"
    msg = _error(text)
    assert msg == "c.toml:6: unknown key 'mqtt[0].topics[0].scael'"


def test_unknown_key_in_second_array_element_and_top_level() -> None:
    text = (
        "[collector]\nname = 'a'\n\n[buffer]\npath = 'x.db'\nmax_byts = 5\n"
        + MINIMAL
        + MINIMAL.replace('characteristic = "{1}.{2}.bore"', 'characteristic = "x"\n  lott = "l"')
    )
    msg = _error(text)
    lines = text.splitlines()
    assert "c.toml:6: unknown key 'buffer.max_byts'" in msg
    lott_line = next(i for i, line in enumerate(lines, 1) if "lott" in line)
    assert f"c.toml:{lott_line}: unknown key 'mqtt[1].topics[0].lott'" in msg


def test_inline_table_key_falls_back_to_parent_line() -> None:
    text = (
        '[[opcua]]\nendpoint = "opc.tcp://h:4840"\n'
        'nodes = [{node_id = "ns=2;i=1", characteristic = "a", scal = 2}]\n'
    )
    assert _error(text) == "c.toml:3: unknown key 'opcua[0].nodes[0].scal'"


def test_missing_key_and_bad_value_are_reported_with_lines() -> None:
    text = '[[mqtt]]\nport = 70000\n  [[mqtt.topics]]\n  topic = "a/b"\n'
    msg = _error(text)
    assert "c.toml:2: mqtt[0].port: Input should be less than or equal to 65535" in msg
    assert "c.toml:3: missing key 'mqtt[0].topics[0].characteristic'" in msg
    assert "\n" not in msg  # one line, for the CLI


@pytest.mark.parametrize(
    ("mapping", "fragment"),
    [
        ('topic = "a/+"\n  characteristic = "{5}"', "has no level 5"),
        ('topic = "a/+"\n  characteristic = "{name}"', "unknown placeholder {name}"),
        ('topic = "a/b+"\n  characteristic = "x"', "+ and # must fill a whole level"),
        ('topic = "a/#/b"\n  characteristic = "x"', "+ and # must fill a whole level"),
        ('topic = "a"\n  characteristic = "{field}"', "characteristic_field is not set"),
        ('topic = "a"\n  characteristic = "x"\n  value = "$"', 'needs timestamp = "receive"'),
    ],
)
def test_topic_mapping_is_checked(mapping: str, fragment: str) -> None:
    assert fragment in _error(f"[[mqtt]]\n  [[mqtt.topics]]\n  {mapping}\n")


def test_wildcard_hash_allows_any_level_in_template() -> None:
    cfg = parse_config('[[mqtt]]\n  [[mqtt.topics]]\n  topic = "a/#"\n  characteristic = "{7}"\n')
    assert cfg.mqtt[0].topics[0].characteristic == "{7}"


def test_no_source_and_duplicate_names_are_errors() -> None:
    assert "no source configured" in _error("[collector]\nname = 'x'\n")
    dup = MINIMAL.replace("[[mqtt]]", "[[mqtt]]\nname = 'a'")
    assert "source names must be unique: a" in _error(dup + dup)


def test_opcua_section_fields_and_rules() -> None:
    text = """
[[opcua]]
endpoint = "opc.tcp://plc1:4840"
security_policy = "Basic256Sha256"
certificate = "client.der"
private_key = "client.pem"
username = "op"
password_env = "PLC_PASSWORD"
queue_size = 10
deadband = 0.01
timestamp = "server"
  [[opcua.nodes]]
  node_id = "ns=2;s=Line1.Bore"
  characteristic = "line1.op20.bore"
  scale = 0.001
  lot_node_id = "ns=2;s=Line1.Lot"
"""
    cfg = parse_config(text)
    o = cfg.opcua[0]
    assert isinstance(o, OpcuaSourceConfig)
    assert (o.name, o.security_mode, o.sampling_interval_ms, o.publishing_interval_ms) == (
        "opcua-1",
        "SignAndEncrypt",
        100.0,
        500.0,
    )
    assert (o.watchdog_seconds, o.max_nodes_per_connection) == (30.0, 500)
    assert o.nodes[0].lot_node_id == "ns=2;s=Line1.Lot" and o.nodes[0].scale == 0.001
    no_cert = text.replace('certificate = "client.der"\n', "")
    assert "needs certificate and private_key" in _error(no_cert)
    assert "greater than or equal to 2" in _error(text.replace("queue_size = 10", "queue_size = 1"))
    assert "password" not in OpcuaSourceConfig.model_fields  # only the env var name exists


def test_invalid_toml_is_one_error() -> None:
    assert _error("[[mqtt]\n").startswith("c.toml: invalid TOML:")


def test_load_config_reports_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")


def test_example_config_is_valid_and_documents_every_option() -> None:
    cfg = load_config(EXAMPLE)
    assert cfg.mqtt and cfg.sparkplug and cfg.opcua
    text = EXAMPLE.read_text()
    # every option appears in the example (most of them commented, with their default)
    models = [
        CollectorConfig.model_fields["collector"].annotation,
        CollectorConfig.model_fields["buffer"].annotation,
        CollectorConfig.model_fields["sink"].annotation,
        CollectorConfig.model_fields["health"].annotation,
        MqttSourceConfig,
        SparkplugSourceConfig,
        OpcuaSourceConfig,
    ]
    from collector.config import OpcuaNodeConfig, SparkplugMetricConfig, TopicMappingConfig

    models += [TopicMappingConfig, SparkplugMetricConfig, OpcuaNodeConfig]
    missing = [
        f"{m.__name__}.{f}"
        for m in models
        for f in m.model_fields  # type: ignore[union-attr]
        if f"{f} =" not in text and f".{f}]]" not in text
    ]
    assert missing == []
    # uncommenting the commented defaults still gives a valid file
    uncommented = "\n".join(
        line.replace("# ", "", 1) if line.lstrip().startswith("# ") and " = " in line else line
        for line in text.splitlines()
    )
    tomllib.loads(uncommented)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "linewatch", "collect", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=30,
    )


def test_cli_check_validates_without_network(tmp_path: Path) -> None:
    good = tmp_path / "c.toml"
    good.write_text(
        f"[buffer]\npath = '{tmp_path / 'b.db'}'\n[sink]\ntoken_env = 'NOPE_X'\n" + MINIMAL
    )
    done = _cli("--config", str(good), "--check")
    assert done.returncode == 0, done.stderr
    assert "config OK" in done.stdout and "mqtt:mqtt-1" in done.stdout
    assert "environment variable NOPE_X is not set" in done.stderr
    assert not (tmp_path / "b.db").exists()  # nothing opened


def test_cli_bad_config_is_one_line_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "c.toml"
    bad.write_text(MINIMAL + "  scael = 2\n")
    done = _cli("--config", str(bad), "--check")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: {bad}:6: unknown key 'mqtt[0].topics[0].scael'"
    ]
    missing = _cli("--check")
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1
