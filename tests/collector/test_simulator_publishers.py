"""The simulator's MQTT JSON and Sparkplug B publishers, through the real Mosquitto."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
import uuid
from collections import defaultdict
from datetime import datetime
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from collector.simulator.app import SimulateOptions, simulate
from collector.simulator.line import Line
from collector.simulator.scenario import parse_scenario
from collector.sources.sparkplug import sparkplug_b_pb2 as pb


def _scenario() -> dict[str, Any]:
    return {
        "seed": 99,
        "characteristics": [
            {"key": "line1.op10.bore", "mean": 74.0, "sigma": 0.01, "decimals": 4, "period": 0.1,
             "subgroup_size": 5, "lot_parts": 20},
            {"key": "line1.op20.torque", "mean": 25.0, "sigma": 0.4, "period": 0.2,
             "behaviours": [{"kind": "fault", "at": 0.0, "duration": 0.5}]},
            {"key": "line2.op40.defects", "kind": "defects", "lot_size": 50, "rate": 0.1,
             "period": 0.5},
        ],
    }  # fmt: skip


class Recorder:
    """A paho subscriber that keeps every message in arrival order."""

    def __init__(self, host: str, port: int, topic: str) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()
        self.subscribed = threading.Event()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"rec-{uuid.uuid4().hex[:8]}"
        )
        self.client.on_connect = lambda c, u, f, r, p=None: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *a: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect(host, port)
        self.client.loop_start()
        assert self.subscribed.wait(10), "subscription not acknowledged"

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        with self.lock:
            self.messages.append((msg.topic, bytes(msg.payload)))

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(5)

    def wait_for(self, predicate: Any, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if predicate(list(self.messages)):
                    return True
            time.sleep(0.05)
        return False

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def model_values(sc: dict[str, Any]) -> dict[str, dict[str, float]]:
    """The seeded model's values per characteristic, in production order."""
    line = Line.from_scenario(parse_scenario(sc), start=datetime(2026, 1, 1).astimezone())
    out: dict[str, list[float]] = defaultdict(list)
    for s in line.sample(100):
        out[s.characteristic].append(s.value)
    return out  # type: ignore[return-value]


def test_mqtt_json_topics_and_payloads(mqtt_broker: tuple[str, int]) -> None:
    host, port = mqtt_broker
    prefix = f"lwtest-{uuid.uuid4().hex[:8]}"
    rec = Recorder(host, port, f"{prefix}/#")
    try:
        sc = _scenario()
        opts = SimulateOptions(
            scenario=parse_scenario(sc), opcua=False, mqtt_host=host, mqtt_port=port,
            mqtt_prefix=prefix, duration=1.5, max_lag=None,
        )  # fmt: skip
        published = asyncio.run(simulate(opts))
        assert rec.wait_for(lambda m: len(m) >= published)
    finally:
        rec.close()
    assert published >= 15
    by_topic: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for topic, payload in rec.messages:
        by_topic[topic].append(json.loads(payload))
    assert set(by_topic) == {
        f"{prefix}/line1/op10/bore",
        f"{prefix}/line1/op20/torque",
        f"{prefix}/line2/op40/defects",
    }
    bore = by_topic[f"{prefix}/line1/op10/bore"]
    assert set(bore[0]) == {"ts", "value", "lot", "serial", "subgroup"}
    assert bore[0]["ts"].endswith("Z") and len(bore[0]["ts"]) == len("2026-11-26T10:00:00.123Z")
    # the values are the seeded model's, in order, none missing (QoS 1)
    expected = model_values(sc)
    for name, key in (
        ("bore", "line1.op10.bore"),
        ("torque", "line1.op20.torque"),
        ("defects", "line2.op40.defects"),
    ):
        got = [p["value"] for p in by_topic[f"{prefix}/{key.replace('.', '/')}"]]
        assert got == expected[key][: len(got)], name
    serials = [p["serial"] for p in bore]
    assert serials == [f"line1-{k:07d}" for k in range(1, len(bore) + 1)]
    assert [p["subgroup"] for p in bore[:6]] == ["SG000001"] * 5 + ["SG000002"]
    torque = by_topic[f"{prefix}/line1/op20/torque"]
    assert [p.get("quality", "good") for p in torque[:4]] == ["bad", "bad", "bad", "good"]
    defects = by_topic[f"{prefix}/line2/op40/defects"]
    assert all("serial" not in p and p["lot"].startswith("line2-op40-L") for p in defects)


def _decode(messages: list[tuple[str, bytes]]) -> list[tuple[list[str], Any]]:
    return [(topic.split("/"), pb.Payload.FromString(payload)) for topic, payload in messages]


def test_sparkplug_births_sequence_data_rebirth_and_death(mqtt_broker: tuple[str, int]) -> None:
    host, port = mqtt_broker
    group = f"lwtest{uuid.uuid4().hex[:8]}"
    rec = Recorder(host, port, f"spBv1.0/{group}/#")
    sc = _scenario()
    stop_holder: dict[str, Any] = {}

    async def run() -> int:
        opts = SimulateOptions(
            scenario=parse_scenario(sc), opcua=False, mqtt_host=host, mqtt_port=port,
            mqtt_prefix=f"unused-{group}", sparkplug=True, sparkplug_group=group, duration=3.0,
            max_lag=None,
        )  # fmt: skip
        task = asyncio.create_task(simulate(opts))
        await asyncio.sleep(1.2)
        # the host application asks line1 for a rebirth
        cmd = pb.Payload()
        m = cmd.metrics.add()
        m.name, m.datatype, m.boolean_value = "Node Control/Rebirth", 11, True
        await asyncio.to_thread(rec.publish, f"spBv1.0/{group}/NCMD/line1", cmd.SerializeToString())
        stop_holder["rebirth_at"] = len(rec.messages)
        return await task

    try:
        asyncio.run(run())
        assert rec.wait_for(lambda m: sum("/NDEATH/" in t for t, _ in m) == 2)
    finally:
        rec.close()
    msgs = [(t, p) for t, p in _decode(rec.messages) if t[2] != "NCMD"]
    for node in ("line1", "line2"):
        mine = [(t, p) for t, p in msgs if t[3] == node]
        kinds = [t[2] for t, _ in mine]
        assert kinds[0] == "NBIRTH" and kinds[-1] == "NDEATH"
        first_data = kinds.index("DDATA")
        assert set(kinds[1:first_data]) == {"DBIRTH"}
        # seq counts every payload but NDEATH, 0..255, restarting at each NBIRTH
        seqs = [p.seq for t, p in mine if t[2] != "NDEATH"]
        births = [i for i, (t, _) in enumerate(mine) if t[2] == "NBIRTH"]
        assert all(seqs[i] == 0 for i in births)
        for a, b in itertools.pairwise(seqs):
            assert b == (a + 1) % 256 or b == 0
        bd = [
            m.long_value
            for t, p in mine
            if t[2] in ("NBIRTH", "NDEATH")
            for m in p.metrics
            if m.name == "bdSeq"
        ]
        assert len(set(bd)) == 1
    line1_births = [t for t, _ in msgs if t[3] == "line1" and t[2] == "NBIRTH"]
    assert len(line1_births) == 2, "the NCMD rebirth was not answered"
    # DDATA metrics carry the model's values with their own timestamps, and lot/serial beside them
    expected = model_values(sc)
    bore = [m for t, p in msgs if t[2] == "DDATA" and t[4] == "op10" for m in p.metrics]
    values = [m.double_value for m in bore if m.name == "bore"]
    assert values == expected["line1.op10.bore"][: len(values)] and len(values) >= 20
    stamps = [m.timestamp for m in bore if m.name == "bore"]
    assert all(b - a == 100 for a, b in itertools.pairwise(stamps))
    assert {m.name for m in bore} == {"bore", "bore/lot", "bore/serial", "bore/subgroup"}
    torque = [
        m
        for t, p in msgs
        if t[2] == "DDATA" and t[4] == "op20"
        for m in p.metrics
        if m.name == "torque"
    ]
    quality = [
        dict(zip(m.properties.keys, [v.int_value for v in m.properties.values], strict=True))
        for m in torque
    ]
    assert quality[:3] == [{"Quality": 0}] * 3 and quality[3] == {}
    dbirth = next(p for t, p in msgs if t[2] == "DBIRTH" and t[4] == "op10")
    assert {(m.name, m.datatype) for m in dbirth.metrics} == {
        ("bore", 10),
        ("bore/lot", 12),
        ("bore/serial", 12),
        ("bore/subgroup", 12),
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rate", "0"], "--rate"),
        (["--scenario", "nope.json"], "no built-in scenario or file"),
        (["--opcua-security", "basic256sha256"], "--opcua-cert"),
        (["--opcua-user", "bob"], "LINEWATCH_SIM_OPCUA_PASSWORD"),
        (["--no-opcua"], "nothing to publish"),
    ],
)
def test_simulate_bad_input_exits_2_with_one_line(
    args: list[str], message: str, monkeypatch
) -> None:
    import typer
    from typer.testing import CliRunner

    from collector.simulator.cli import register

    monkeypatch.delenv("LINEWATCH_SIM_OPCUA_PASSWORD", raising=False)
    app = typer.Typer()
    register(app)
    result = CliRunner().invoke(app, ["simulate", *args])
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


def test_cli_module_imports_only_typer_and_stdlib() -> None:
    import subprocess
    import sys

    code = (
        "import sys; import collector.simulator.cli; "
        "heavy = {'numpy', 'asyncua', 'paho', 'pydantic', 'google.protobuf'} & set(sys.modules); "
        "print(sorted(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr
