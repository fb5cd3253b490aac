"""Sparkplug B: real Eclipse Tahu `sparkplug-client` (npm) traffic through Mosquitto, plus the
payload decoding details (signed integers, compression) and bad input."""

from __future__ import annotations

import gzip
import shutil
import subprocess
import uuid
import zlib
from pathlib import Path
from typing import Any

import pytest
from collector_support import PEERS, config_text, publish_all, publisher, wait_until
from ingest_stub import IngestServer

from collector.config import parse_config
from collector.sources.sparkplug.payload import (
    COMPRESSED_UUID,
    DataType,
    Payload,
    PayloadError,
    metric_number,
    parse_payload,
)

BASE_MS = 1_795_000_000_000


@pytest.fixture(scope="module")
def tahu() -> list[str]:
    node = shutil.which("node")
    if node is None:
        pytest.fail(
            "Node.js is not installed: the Sparkplug tests need it (apt-get install nodejs)"
        )
    if not (PEERS / "node_modules" / "sparkplug-client").is_dir():
        pytest.fail("npm sparkplug-client is missing: run `bash scripts/node-peers.sh`")
    return [node, str(PEERS / "sparkplug_edge.js")]


def _sources(port: int, group: str, extra: str = "") -> str:
    return f"""
[[sparkplug]]
port = {port}
group_id = "{group}"
client_id = "c-{group}"
rebirth_min_interval_seconds = 0.2
{extra}
  [[sparkplug.metrics]]
  metric = "Bore"
  characteristic = "{{group}}.{{node}}.{{device}}.bore"
  [[sparkplug.metrics]]
  metric = "Count"
  device = "D*"
  characteristic = "{{device}}.count"
  scale = 2.0
  [[sparkplug.metrics]]
  metric = "Label"
  characteristic = "label"
"""


def _run_edge(tahu: list[str], port: int, group: str, *args: str) -> str:
    done = subprocess.run(
        [
            *tahu,
            "--url",
            f"mqtt://127.0.0.1:{port}",
            "--group",
            group,
            "--node",
            "N1",
            "--device",
            "D1",
            "--base",
            str(BASE_MS),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_tahu_births_and_device_data(
    tmp_path: Path,
    ingest: IngestServer,
    mqtt_broker: tuple[str, int],
    run_collector: Any,
    tahu: list[str],
) -> None:
    group = f"G{uuid.uuid4().hex[:8]}"
    text = config_text(
        buffer=tmp_path / "b.db", sink_url=ingest.url, sources=_sources(mqtt_broker[1], group)
    )
    rc = run_collector(parse_config(text))
    out = _run_edge(tahu, mqtt_broker[1], group, "--count", "60")
    assert "SENT 60" in out
    ingest.wait_for(120)
    bore = [r for r in ingest.state.stored if r["characteristic"] == f"{group}.N1.D1.bore"]
    assert [r["value"] for r in bore] == pytest.approx([74 + i / 1000 for i in range(60)])
    assert bore[7]["ts"] == "2026-11-18T11:06:40.007Z"  # the metric's own timestamp
    # Int32 in the uint32 field as two's complement: i - 5 decodes negative, then scaled
    assert ingest.state.values("D1.count") == [2.0 * (i - 5) for i in range(60)]
    assert ingest.state.values("label") == []  # births are not charted by default
    stats = rc.collector.sources[0].stats()
    assert stats["seq_gaps"] == 0 and stats["births"] == 1 and stats["rebirth_requests"] == 0
    rc.stop()


def test_sequence_gap_requests_a_rebirth(
    tmp_path: Path,
    ingest: IngestServer,
    mqtt_broker: tuple[str, int],
    run_collector: Any,
    tahu: list[str],
) -> None:
    group = f"G{uuid.uuid4().hex[:8]}"
    text = config_text(
        buffer=tmp_path / "b.db", sink_url=ingest.url, sources=_sources(mqtt_broker[1], group)
    )
    rc = run_collector(parse_config(text))
    out = _run_edge(
        tahu, mqtt_broker[1], group, "--count", "40", "--gap-at", "20", "--wait-rebirth", "5"
    )
    assert "REBIRTH" in out  # Tahu's client received our NCMD and published its births again
    ingest.wait_for(80)
    stats = rc.collector.sources[0].stats()
    assert stats["seq_gaps"] == 1 and stats["rebirth_requests"] == 1 and stats["births"] == 2
    assert len(ingest.state.values(f"{group}.N1.D1.bore")) == 40  # data on both sides of the gap
    rc.stop()


def test_garbage_and_unborn_nodes_are_counted_not_fatal(
    tmp_path: Path,
    ingest: IngestServer,
    mqtt_broker: tuple[str, int],
    run_collector: Any,
    tahu: list[str],
) -> None:
    group = f"G{uuid.uuid4().hex[:8]}"
    text = config_text(
        buffer=tmp_path / "b.db", sink_url=ingest.url, sources=_sources(mqtt_broker[1], group)
    )
    rc = run_collector(parse_config(text))
    orphan = Payload(timestamp=BASE_MS, seq=3)
    m = orphan.metrics.add()
    m.alias, m.datatype, m.double_value = 2, DataType.DOUBLE, 1.0
    pub = publisher(mqtt_broker[1])
    # a node-control subscriber sees our rebirth request to the node we never saw born
    ncmd: list[bytes] = []
    pub.subscribe(f"spBv1.0/{group}/NCMD/ghost", qos=0)
    pub.on_message = lambda _c, _u, msg: ncmd.append(msg.payload)
    publish_all(
        pub,
        [
            (f"spBv1.0/{group}/DDATA/N1/D1", b"\xff\xff\xff\xff garbage"),
            (f"spBv1.0/{group}/DDATA/ghost/D1", orphan.SerializeToString()),
        ],
    )
    _run_edge(tahu, mqtt_broker[1], group, "--count", "10")
    ingest.wait_for(20)
    assert len(ingest.state.values(f"{group}.N1.D1.bore")) == 10
    invalid = rc.collector.metrics.invalid
    assert invalid.labels("sparkplug-1", "sparkplug-decode")._value.get() == 1
    assert invalid.labels("sparkplug-1", "sparkplug-no-birth")._value.get() == 1
    wait_until(lambda: len(ncmd) == 1, 5, "rebirth request to the unborn node")
    request = Payload.FromString(ncmd[0])
    assert [(x.name, x.boolean_value) for x in request.metrics] == [("Node Control/Rebirth", True)]
    pub.loop_stop()
    rc.stop()


# ---------------------------------------------------------------------- payload details


def _metric(**kw: Any) -> Any:
    p = Payload()
    m = p.metrics.add()
    for k, v in kw.items():
        setattr(m, k, v)
    return m


@pytest.mark.parametrize(
    ("fields", "datatype", "expected"),
    [
        ({"int_value": 2**32 - 5}, DataType.INT32, -5.0),
        ({"int_value": 2**32 - 1}, DataType.INT8, -1.0),
        ({"int_value": 2**32 - 5}, DataType.UINT32, float(2**32 - 5)),
        ({"long_value": 2**64 - 7}, DataType.INT64, -7.0),
        ({"long_value": 2**40}, DataType.UINT64, float(2**40)),
        ({"float_value": 1.5}, DataType.FLOAT, 1.5),
        ({"double_value": 74.012}, DataType.DOUBLE, 74.012),
        ({"boolean_value": True}, DataType.BOOLEAN, 1.0),
        ({"double_value": 3.0}, None, 3.0),
    ],
)
def test_metric_numbers(fields: dict[str, Any], datatype: int | None, expected: float) -> None:
    assert metric_number(_metric(**fields), datatype) == expected


@pytest.mark.parametrize(
    ("fields", "datatype", "fragment"),
    [
        ({"string_value": "x"}, DataType.STRING, "not numeric"),
        ({"long_value": 1}, DataType.DATETIME, "not numeric"),
        ({"is_null": True}, DataType.DOUBLE, "null"),
        ({}, DataType.DOUBLE, "no value"),
        ({"double_value": float("nan")}, DataType.DOUBLE, "non-finite"),
    ],
)
def test_metric_without_a_usable_number(
    fields: dict[str, Any], datatype: int, fragment: str
) -> None:
    result = metric_number(_metric(**fields), datatype)
    assert isinstance(result, str) and fragment in result


@pytest.mark.parametrize("algorithm", ["DEFLATE", "GZIP", None])
def test_compressed_payloads_are_inflated(algorithm: str | None) -> None:
    inner = Payload(seq=7, timestamp=BASE_MS)
    inner.metrics.add(name="Bore", double_value=74.0)
    raw = inner.SerializeToString()
    outer = Payload(
        uuid=COMPRESSED_UUID, body=gzip.compress(raw) if algorithm == "GZIP" else zlib.compress(raw)
    )
    if algorithm:
        outer.metrics.add(name="algorithm", string_value=algorithm)
    decoded = parse_payload(outer.SerializeToString())
    assert decoded.seq == 7 and decoded.metrics[0].double_value == 74.0


def test_garbage_does_not_parse() -> None:
    with pytest.raises(PayloadError):
        parse_payload(b"\xff\xff\xff\xff garbage")
    broken = Payload(uuid=COMPRESSED_UUID, body=b"not deflate").SerializeToString()
    with pytest.raises(PayloadError, match="compressed"):
        parse_payload(broken)
