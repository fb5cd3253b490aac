"""MQTT throughput: a bare paho subscriber and the Linewatch collector on the same stream.

    .venv/bin/python bench/bench_collector.py [--messages 60000] [--array-messages 3000]

One private Mosquitto (max_queued_messages raised). Both consumers hold a persistent session
on the same topic; the stream is published while both are away, so each then drains the same
backlog alone, as fast as it can, and neither competes with the publisher for the CPU.
- bare: paho-mqtt 2 subscriber, QoS 1, automatic PUBACK, counts messages (does nothing else);
- collector: `python -m collector` with everything on: JSON decoding, the SQLite disk buffer
  (WAL, one transaction per batch), PUBACK only after the commit, and the HTTP sink forwarding
  to an ingest server (a separate process) at the same time.
Rate = readings / (time of the last - time of the first), for the collector counted when the
readings are durable in the buffer (Prometheus `readings_in`, polled every 100 ms).
Runs two streams: single-reading messages (target: collector >= 0.7x bare), and messages with
arrays of 100 readings (target: >= 50,000 readings/s).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "collector"))
sys.path.insert(0, str(ROOT))

import paho.mqtt.client as mqtt  # noqa: E402
from collector_support import OwnBroker, free_port, port_open, wait_until  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402

TOPIC = "bench/line1/op20/bore"

BARE = r"""
import sys, time, threading
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
port, topic = int(sys.argv[1]), sys.argv[2]
expected, readings_per_msg = int(sys.argv[3]), int(sys.argv[4])
done = threading.Event()
state = {"n": 0, "first": None, "last": None}
def on_message(c, u, msg):
    now = time.time()
    if state["first"] is None:
        state["first"] = now
    state["n"] += 1
    if state["n"] >= expected:
        state["last"] = now
        done.set()
def on_connect(c, u, flags, rc, props):
    c.subscribe(topic, qos=1)
c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-bare", protocol=mqtt.MQTTv5)
c.on_message = on_message
c.on_connect = on_connect
p = Properties(PacketTypes.CONNECT); p.SessionExpiryInterval = 3600; p.ReceiveMaximum = 1000
c.connect("127.0.0.1", port, clean_start=False, properties=p)
c.loop_start()
mode = sys.argv[5]
if mode == "register":
    time.sleep(0.5)
else:
    done.wait(600)
    print(f"{state['n'] * readings_per_msg} {state['first']} {state['last']}")
c.disconnect(); c.loop_stop()
"""


def bare(port: int, expected: int, per_msg: int, mode: str) -> tuple[int, float, float] | None:
    out = subprocess.run(
        [sys.executable, "-c", BARE, str(port), TOPIC, str(expected), str(per_msg), mode],
        capture_output=True,
        text=True,
        timeout=900,
        check=True,
    ).stdout.split()
    if mode == "register":
        return None
    return int(out[0]), float(out[1]), float(out[2])


def publish(port: int, messages: int, per_msg: int) -> float:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-pub", protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    t0 = time.time()
    pending = []
    for i in range(messages):
        if per_msg == 1:
            body = {"ts": "2026-11-26T10:00:00.123Z", "value": 74.0 + (i % 100) / 1000}
        else:
            body = [
                {"ts": "2026-11-26T10:00:00.123Z", "value": 74.0 + k / 1000} for k in range(per_msg)
            ]
        pending.append(client.publish(TOPIC, json.dumps(body).encode(), qos=1))
        if len(pending) >= 5000:
            for info in pending:
                info.wait_for_publish(60)
            pending.clear()
    for info in pending:
        info.wait_for_publish(60)
    client.disconnect()
    client.loop_stop()
    return time.time() - t0


def collector_config(tmp: Path, port: int, ingest_port: int, health: int, tag: str) -> Path:
    cfg = tmp / f"collector-{tag}.toml"
    cfg.write_text(
        f"""
[collector]
name = "bench-{tag}"
log_format = "json"
[buffer]
path = "{tmp}/buffer-{tag}.db"
[sink]
url = "http://127.0.0.1:{ingest_port}/api/v1/measurements"
token_env = "LINEWATCH_TEST_TOKEN"
[health]
listen = "127.0.0.1:{health}"
[[mqtt]]
port = {port}
client_id = "bench-collector-{tag}"
max_inflight = 1000
  [[mqtt.topics]]
  topic = "bench/+/+/bore"
  characteristic = "{{1}}.{{2}}.bore"
"""
    )
    return cfg


def readings_in(health: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{health}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    m = re.search(r'linewatch_collector_readings_in_total\{source="mqtt-1"\} ([0-9.e+]+)', text)
    return int(float(m.group(1))) if m else 0


def forwarded(health: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{health}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    m = re.search(r"linewatch_collector_readings_forwarded_total ([0-9.e+]+)", text)
    return int(float(m.group(1))) if m else 0


def start_collector(cfg: Path, log: Path, health: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "LINEWATCH_TEST_TOKEN": "test-token"}
    with open(log, "ab") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "collector", "--config", str(cfg)],
            cwd=ROOT,
            env=env,
            stdout=fh,
            stderr=fh,
        )
    wait_until(lambda: port_open(health), 20, "collector health port")
    return proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()


def drain_collector(cfg: Path, log: Path, health: int, total: int) -> tuple[float, float]:
    """Starts the collector on its backlog: (readings/s into the buffer, s until all forwarded).

    The clock starts when the collector's MQTT connection is up (its log line), and stops when
    Prometheus `readings_in` (polled every 100 ms: more often, the polling itself slows the
    collector measurably) reaches the backlog; the rate is thus a slight underestimate.
    """
    offset = log.stat().st_size if log.exists() else 0
    proc = start_collector(cfg, log, health)
    t_last = None
    deadline = time.time() + 600
    while time.time() < deadline:
        if readings_in(health) >= total:
            t_last = time.time()
            break
        time.sleep(0.1)
    assert t_last is not None, "collector did not drain the backlog"
    t_first = _connected_at(log, offset)
    rate = total / (t_last - t_first)
    forwarding = None
    if "sink-off" not in cfg.name:
        wait_until(lambda: forwarded(health) >= total, 300, "forwarding")
        forwarding = time.time() - t_first
    stop(proc)
    return rate, forwarding or 0.0


def _connected_at(log: Path, offset: int) -> float:
    from datetime import datetime

    with open(log, "rb") as fh:
        fh.seek(offset)
        for line in fh.read().decode(errors="replace").splitlines():
            if line.startswith("{"):
                entry = json.loads(line)
                if entry.get("event") == "MQTT connected":
                    return datetime.fromisoformat(entry["ts"]).timestamp()
    raise AssertionError("no 'MQTT connected' line in the collector log")


def run_stream(
    tmp: Path, broker: OwnBroker, ingest_port: int, messages: int, per_msg: int, rounds: int
) -> dict[str, Any]:
    """`rounds` x (publish the backlog, bare drains it, collector drains it), then once more
    with the collector forwarding to the ingest server while it drains."""
    tag = f"{per_msg}x{messages}"
    health = free_port()
    dead_port = free_port()  # nobody listens: the sink keeps everything in the buffer
    cfg_off = collector_config(tmp, broker.port, dead_port, health, f"{tag}-sink-off")
    cfg_on = collector_config(tmp, broker.port, ingest_port, health, f"{tag}-sink-on")
    # the on/off configs share one MQTT session: same client id, same backlog
    cfg_on.write_text(
        cfg_on.read_text()
        .replace(f"{tag}-sink-on", f"{tag}-sink-off", 1)
        .replace(f"bench-collector-{tag}-sink-on", f"bench-collector-{tag}-sink-off")
    )
    log = tmp / f"collector-{tag}.log"
    bare(broker.port, 0, per_msg, "register")
    proc = start_collector(cfg_off, log, health)
    wait_until(lambda: "MQTT subscribed" in log.read_text(), 20, "collector subscribed")
    stop(proc)
    total = messages * per_msg
    bare_rates, col_rates = [], []
    for _ in range(rounds):
        publish(broker.port, messages, per_msg)
        n, first, last = bare(broker.port, messages, per_msg, "drain")  # type: ignore[misc]
        bare_rates.append(n / (last - first))
        rate, _ = drain_collector(cfg_off, log, health, total)
        col_rates.append(rate)
    publish(broker.port, messages, per_msg)
    bare(broker.port, messages, per_msg, "drain")
    with_sink, forward_s = drain_collector(cfg_on, log, health, total)
    return {
        "messages": messages,
        "readings": total,
        "bare": bare_rates,
        "collector": col_rates,
        "with_sink": with_sink,
        "forwarded_rate": total / forward_s,
    }


INGEST = r"""
import sys, time
sys.path.insert(0, sys.argv[2])
from ingest_stub import IngestServer
IngestServer(int(sys.argv[1])).start()
print("READY", flush=True)
time.sleep(3600)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=60_000)
    parser.add_argument("--array-messages", type=int, default=3_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        broker = OwnBroker(tmp / "mosquitto").start()
        ingest_port = free_port()
        ingest = subprocess.Popen(
            [sys.executable, "-c", INGEST, str(ingest_port), str(ROOT / "tests" / "collector")],
            stdout=subprocess.PIPE,
        )
        wait_until(lambda: port_open(ingest_port), 20, "ingest server")
        try:
            load = os.getloadavg()[0]
            single = run_stream(tmp, broker, ingest_port, args.messages, 1, args.rounds)
            arrays = run_stream(tmp, broker, ingest_port, args.array_messages, 100, args.rounds)
        finally:
            ingest.kill()
            broker.stop()
    print(f"machine: {os.cpu_count()} CPUs, 1-min load average before the run {load:.2f}")
    print("readings/s per round (best first); ratio = collector best / bare best")
    for name, r in (("single-reading messages", single), ("arrays of 100 readings", arrays)):
        bare_best, col_best = max(r["bare"]), max(r["collector"])
        r["ratio"] = col_best / bare_best
        print(
            f"{name}: {r['readings']:,} readings in {r['messages']:,} messages\n"
            f"  bare paho subscriber : {_rates(r['bare'])}\n"
            f"  collector, disk buffer on (service unreachable): {_rates(r['collector'])}\n"
            f"  ratio {r['ratio']:.2f}\n"
            f"  collector while also forwarding to the ingest server (same machine): "
            f"{r['with_sink']:,.0f} readings/s in, {r['forwarded_rate']:,.0f} readings/s forwarded"
        )
    print(
        f"targets: single-reading ratio >= 0.70 -> {'PASS' if single['ratio'] >= 0.7 else 'FAIL'}; "
        f"arrays >= 50,000 readings/s -> "
        f"{'PASS' if max(arrays['collector']) >= 50_000 else 'FAIL'}"
    )


def _rates(values: list[float]) -> str:
    return ", ".join(f"{v:,.0f}" for v in sorted(values, reverse=True))


if __name__ == "__main__":
    main()
