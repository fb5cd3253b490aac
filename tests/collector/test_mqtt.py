"""The MQTT source end to end: Mosquitto -> collector -> disk buffer -> ingest server."""

from __future__ import annotations

import json
import logging
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from collector_support import config_text, mqtt_source, publish_all, publisher, wait_until
from ingest_stub import IngestServer

from collector.config import parse_config


def _tag() -> str:
    return uuid.uuid4().hex[:10]


def _config(tmp_path: Path, ingest: IngestServer, sources: str, **kw: Any) -> Any:
    return parse_config(
        config_text(
            buffer=tmp_path / f"buf-{_tag()}.db", sink_url=ingest.url, sources=sources, **kw
        )
    )


def _ts(i: int) -> str:
    return f"2026-11-26T10:{i // 60 % 60:02d}:{i % 60:02d}.000Z"


def test_json_readings_single_and_arrays(
    tmp_path: Path, ingest: IngestServer, mqtt_broker: tuple[str, int], run_collector: Any
) -> None:
    tag = _tag()
    sources = (
        mqtt_source(
            mqtt_broker[1],
            f"{tag}/+/+/bore",
            "{1}.{2}.bore",
            client_id=f"c-{tag}",
            mapping='lot = "lot"',
        )
        + f"""
  [[mqtt.topics]]
  topic = "{tag}/+/gauges"
  characteristic = "{{1}}.{{field}}"
  characteristic_field = "name"
  value = "v"
"""
    )
    rc = run_collector(_config(tmp_path, ingest, sources))
    pub = publisher(mqtt_broker[1])
    msgs: list[tuple[str, Any]] = [
        (f"{tag}/line1/op20/bore", {"ts": _ts(i), "value": 74 + i / 1000, "lot": "L1"})
        for i in range(100)
    ]
    msgs.append(
        (f"{tag}/line2/gauges", [{"ts": _ts(i), "name": "depth", "v": i} for i in range(50)])
    )
    publish_all(pub, msgs)
    ingest.wait_for(150)
    assert ingest.state.values("line1.op20.bore") == [74 + i / 1000 for i in range(100)]
    assert ingest.state.values("line2.depth") == list(range(50))
    first = next(r for r in ingest.state.stored if r["characteristic"] == "line1.op20.bore")
    assert first["lot"] == "L1" and first["ts"] == _ts(0) and first["source"] == "test-collector"
    pub.loop_stop()
    rc.stop()


def test_bad_input_is_counted_logged_once_and_never_blocks(
    tmp_path: Path,
    ingest: IngestServer,
    mqtt_broker: tuple[str, int],
    run_collector: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    tag = _tag()
    sources = mqtt_source(mqtt_broker[1], f"{tag}/#", "{-1}", client_id=f"c-{tag}")
    rc = run_collector(_config(tmp_path, ingest, sources))
    pub = publisher(mqtt_broker[1])
    bad: list[Any] = [
        b"{not json",
        {"ts": _ts(0), "value": "74.0"},  # wrong type
        {"ts": _ts(0)},  # missing value
        {"value": 1.0},  # missing timestamp
        b"",
    ]
    msgs: list[tuple[str, Any]] = []
    for i in range(200):
        msgs.append((f"{tag}/good", {"ts": _ts(i), "value": i}))
        msgs.append((f"{tag}/bad", bad[i % len(bad)]))
    with caplog.at_level(logging.WARNING, logger="linewatch.collector"):
        publish_all(pub, msgs)
        ingest.wait_for(200)
    assert ingest.state.values("good") == list(range(200))
    assert ingest.state.values("bad") == []
    metrics = rc.collector.metrics
    counts = {
        kind: metrics.invalid.labels("mqtt-1", kind)._value.get()
        for kind in ("malformed-json", "wrong-type", "missing-field")
    }
    assert counts == {"malformed-json": 80, "wrong-type": 40, "missing-field": 80}
    logged = [r for r in caplog.records if "invalid input dropped" in r.getMessage()]
    assert sorted(r.fields["kind"] for r in logged) == [
        "malformed-json",
        "missing-field",
        "wrong-type",
    ]
    assert all(r.fields["sample"] is not None and r.fields["reason"] for r in logged)
    pub.loop_stop()
    rc.stop()


def test_mqtt_311_and_qos0(
    tmp_path: Path, ingest: IngestServer, mqtt_broker: tuple[str, int], run_collector: Any
) -> None:
    tag = _tag()
    sources = mqtt_source(
        mqtt_broker[1], f"{tag}/+", "{1}", client_id=f"c-{tag}", extra='protocol = "3.1.1"'
    )
    rc = run_collector(_config(tmp_path, ingest, sources))
    pub = publisher(mqtt_broker[1], protocol=mqtt.MQTTv311)
    publish_all(pub, [(f"{tag}/v", {"ts": _ts(i), "value": i}) for i in range(300)])
    # QoS 0 may overtake queued QoS 1 messages at the broker: another characteristic
    publish_all(pub, [(f"{tag}/w", {"ts": _ts(i), "value": i}) for i in range(10)], qos=0)
    ingest.wait_for(310)
    assert ingest.state.values("v") == list(range(300))
    assert ingest.state.values("w") == list(range(10))
    pub.loop_stop()
    rc.stop()


def test_shared_subscription_splits_the_stream(
    tmp_path: Path, ingest: IngestServer, mqtt_broker: tuple[str, int], run_collector: Any
) -> None:
    tag = _tag()
    running = []
    for k in range(2):
        sources = mqtt_source(
            mqtt_broker[1],
            f"{tag}/+",
            "{1}",
            client_id=f"c{k}-{tag}",
            extra=f'shared_group = "g{tag}"',
        )
        running.append(run_collector(_config(tmp_path, ingest, sources, name=f"edge{k}")))
    pub = publisher(mqtt_broker[1])
    publish_all(pub, [(f"{tag}/x", {"ts": _ts(i), "value": i}) for i in range(400)])
    ingest.wait_for(400)
    by_source: dict[str, int] = {}
    for r in ingest.state.stored:
        by_source[r["source"]] = by_source.get(r["source"], 0) + 1
    assert sorted(ingest.state.values("x")) == list(range(400))  # each reading once
    assert set(by_source) == {"edge0", "edge1"} and min(by_source.values()) > 50
    pub.loop_stop()
    for r in running:
        r.stop()


def test_persistent_session_gets_what_was_published_while_away(
    tmp_path: Path, ingest: IngestServer, own_broker: Any, run_collector: Any
) -> None:
    tag = _tag()
    buffer = tmp_path / "buf.db"
    sources = mqtt_source(own_broker.port, f"{tag}/+", "{1}", client_id=f"c-{tag}")
    text = config_text(buffer=buffer, sink_url=ingest.url, sources=sources)
    rc = run_collector(parse_config(text))
    pub = publisher(own_broker.port)
    publish_all(pub, [(f"{tag}/x", {"ts": _ts(i), "value": i}) for i in range(100)])
    ingest.wait_for(100)
    rc.stop()
    # away: 5,000 messages (past Mosquitto's default max_queued_messages of 1,000)
    publish_all(pub, [(f"{tag}/x", {"ts": _ts(i), "value": i}) for i in range(100, 5100)])
    rc = run_collector(parse_config(text))
    ingest.wait_for(5100, timeout=30)
    assert ingest.state.values("x") == list(range(5100))
    pub.loop_stop()
    rc.stop()


def test_health_and_metrics_endpoints(
    tmp_path: Path, ingest: IngestServer, mqtt_broker: tuple[str, int], run_collector: Any
) -> None:
    from ingest_stub import free_port

    tag = _tag()
    port = free_port()
    sources = mqtt_source(mqtt_broker[1], f"{tag}/+", "{1}", client_id=f"c-{tag}")
    rc = run_collector(_config(tmp_path, ingest, sources, health=f"127.0.0.1:{port}"))
    pub = publisher(mqtt_broker[1])
    publish_all(pub, [(f"{tag}/x", {"ts": _ts(i), "value": i}) for i in range(30)])
    publish_all(pub, [(f"{tag}/x", b"nope")])
    ingest.wait_for(30)
    wait_until(
        lambda: rc.collector.metrics.invalid.labels("mqtt-1", "malformed-json")._value.get() == 1,
        5,
        "invalid counted",
    )
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as resp:
        health = json.load(resp)
        assert resp.status == 200
    assert health["status"] == "ok" and health["sink"]["state"] == "ok"
    assert health["sources"]["mqtt-1"]["connected"] == 1.0
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    assert 'linewatch_collector_readings_in_total{source="mqtt-1"} 30.0' in text
    assert "linewatch_collector_readings_forwarded_total 30.0" in text
    assert (
        'linewatch_collector_readings_invalid_total{reason="malformed-json",source="mqtt-1"} 1.0'
        in text
    )
    assert 'linewatch_collector_source_messages{source="mqtt-1"} 31.0' in text
    assert "linewatch_collector_buffer_readings" in text
    ingest.state.token = "rotated"  # the service no longer accepts our token
    publish_all(pub, [(f"{tag}/x", {"ts": _ts(0), "value": 0})])
    wait_until(lambda: rc.collector.sink.state == "auth-failed", 10, "auth failure")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5)
    assert err.value.code == 503
    assert json.loads(err.value.read())["sink"]["state"] == "auth-failed"
    pub.loop_stop()
    rc.stop()


def test_tls_and_password_from_environment(
    tmp_path: Path,
    ingest: IngestServer,
    run_collector: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from collector_support import SecureBroker

    broker = SecureBroker(tmp_path / "secure", password="s3cret-pw").start()
    try:
        tag = _tag()
        monkeypatch.setenv("LW_MQTT_PASSWORD", "s3cret-pw")
        extra = (
            f'tls = "on"\nca_file = "{broker.ca_file}"\n'
            'username = "collector"\npassword_env = "LW_MQTT_PASSWORD"'
        )
        sources = mqtt_source(broker.port, f"{tag}/+", "{1}", client_id=f"c-{tag}", extra=extra)
        rc = run_collector(_config(tmp_path, ingest, sources))
        pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        pub.tls_set(ca_certs=str(broker.ca_file))
        pub.username_pw_set("collector", "s3cret-pw")
        pub.connect("127.0.0.1", broker.port)
        pub.loop_start()
        publish_all(pub, [(f"{tag}/x", {"ts": _ts(i), "value": i}) for i in range(20)])
        ingest.wait_for(20)
        assert ingest.state.values("x") == list(range(20))
        pub.loop_stop()
        rc.stop()
    finally:
        broker.stop()


def test_wrong_password_is_refused_and_logged(
    tmp_path: Path,
    ingest: IngestServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from collector_support import RunningCollector, SecureBroker

    broker = SecureBroker(tmp_path / "secure", password="right").start()
    try:
        monkeypatch.setenv("LW_MQTT_PASSWORD", "wrong")
        extra = (
            f'tls = "on"\nca_file = "{broker.ca_file}"\n'
            'username = "collector"\npassword_env = "LW_MQTT_PASSWORD"'
        )
        sources = mqtt_source(broker.port, "x/+", "{1}", client_id=f"c-{_tag()}", extra=extra)
        with caplog.at_level(logging.WARNING, logger="linewatch.collector"):
            rc = RunningCollector(_config(tmp_path, ingest, sources)).start()
            wait_until(
                lambda: any("MQTT connection refused" in r.getMessage() for r in caplog.records),
                10,
                "refusal logged",
            )
            rc.stop()
        assert all("wrong" not in str(getattr(r, "fields", "")) for r in caplog.records)
    finally:
        broker.stop()
