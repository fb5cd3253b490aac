"""OPC UA throughput: a bare asyncua client and the Linewatch collector on the same server.

    .venv/bin/python bench/bench_opcua.py [--server asyncua|node|both] [--items 1000] [--hz 10]
        [--seconds 15] [--sequential] [--saturate 0]

The server runs in its own process and writes N Double variables at HZ:
- asyncua: the line simulator (`python -m collector.simulator simulate --scenario load:N@HZ`),
  source timestamps exactly 1/HZ apart. On a machine too busy for it, it skips the samples it is
  more than 0.5 s late for (it says how many): those show up as missing for both readers.
- node: node-opcua (tests/peers/opcua_server.js; `bash scripts/node-peers.sh` installs it), which
  sets every variable to k on tick k: a reader missed a value exactly when its k-series has a gap.
  Its variables report every change (sampling interval 0); it never skips, ticks only run late.
Readers (same parameters: queue size 10 or --queue-size, publishing 500 ms, sampling 100 ms;
0 for node):
- bare: an asyncua 2.1 client, one connection, one subscription in iterator mode (asyncua's
  fastest path); it counts notifications and keeps each one's timestamp or value, nothing else;
- collector: `python -m collector` with everything on: the OPC UA source (nodes spread over
  connections of 500), the SQLite disk buffer (WAL, one transaction per batch) and the HTTP sink
  forwarding to an ingest server (a thread of this process) at the same time.
By default both read at the same time, so both see the same server on the same (shared) machine
(--sequential: one after the other). Rate = readings in the measuring window / its length, after
a warm-up; for the collector, readings durable in the buffer (Prometheus `readings_in`).
Missing = per variable, the readings between its first and last that it did not get; for the
collector, counted on what reached the ingest server.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PEERS = ROOT / "tests" / "peers"
sys.path.insert(0, str(ROOT / "tests" / "collector"))
sys.path.insert(0, str(ROOT))

from collector_support import free_port, port_open, wait_until  # noqa: E402
from ingest_stub import IngestServer  # noqa: E402

READINGS_IN = r'linewatch_collector_readings_in_total\{source="opcua-1"\} ([0-9.e+]+)'

BARE = r"""
import asyncio, json, resource, sys, time
from asyncua import Client
from asyncua.common.subscription import DataChangeEvent

endpoint, node_ids = sys.argv[1], json.loads(open(sys.argv[2]).read())
warmup, seconds, sampling = float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
by_value, queue_size = sys.argv[6] == "value", int(sys.argv[7])

async def main():
    client = Client(endpoint, timeout=10)
    await client.connect()
    namespaces = await client.get_namespace_array()
    def resolve(text):  # "nsu=URI;s=ID" -> "ns=<index>;s=ID"
        uri, rest = text[4:].split(";", 1)
        return f"ns={namespaces.index(uri)};{rest}"
    nodes = [client.get_node(resolve(n)) for n in node_ids]
    sub = await client.create_subscription(500, None, queue_maxsize=0)
    for start in range(0, len(nodes), 500):
        chunk = nodes[start:start + 500]
        await sub.subscribe_data_change(chunk, queuesize=queue_size, sampling_interval=sampling)
    seen = {}
    t0 = time.monotonic()
    start_at, stop_at = t0 + warmup, t0 + warmup + seconds
    in_window = 0
    cpu0 = None
    while True:
        now = time.monotonic()
        if now >= stop_at:
            break
        if cpu0 is None and now >= start_at:
            cpu0 = resource.getrusage(resource.RUSAGE_SELF)
            print("START", flush=True)
        ev = await sub.next_event(timeout=stop_at - now)
        if ev is None or type(ev) is not DataChangeEvent:
            continue
        if start_at <= time.monotonic() < stop_at:
            in_window += 1
        item = ev.data.monitored_item
        key = ev.value if by_value else item.Value.SourceTimestamp.timestamp()
        seen.setdefault(item.ClientHandle, []).append(key)
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)
    await client.disconnect()
    print(json.dumps({"in_window": in_window, "cpu": cpu, "series": list(seen.values())}))

asyncio.run(main())
"""


@dataclass
class Server:
    """One OPC UA server process and how to read it."""

    kind: str
    items: int
    hz: float
    port: int
    proc: subprocess.Popen[bytes]
    log: Path
    queue_size: int = 10

    @property
    def endpoint(self) -> str:
        return f"opc.tcp://127.0.0.1:{self.port}"

    @property
    def by_value(self) -> bool:
        return self.kind == "node"

    @property
    def step(self) -> float:
        """The distance between two consecutive readings of one variable (value or time)."""
        return 1.0 if self.by_value else 1.0 / self.hz

    @property
    def sampling_ms(self) -> float:
        return 0.0 if self.kind == "node" else 100.0

    def node_ids(self) -> list[str]:
        if self.kind == "node":
            return [f"nsu=urn:linewatch:test:node-opcua;s=v{i:04d}" for i in range(self.items)]
        return [
            f"nsu=urn:linewatch:simulator;s=load.s{i // 100:02d}.c{i:05d}"
            for i in range(self.items)
        ]

    def skipped(self) -> int | None:
        if self.kind != "asyncua":
            return None
        found = re.search(r"skipped (\d+) late samples", self.log.read_text())
        return int(found.group(1)) if found else 0

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def start_server(kind: str, items: int, hz: float, tmp: Path, queue_size: int) -> Server:
    port = free_port()
    log = tmp / f"server-{kind}-{items}.log"
    if kind == "node":
        node = shutil.which("node")
        if node is None or not (PEERS / "node_modules" / "node-opcua").is_dir():
            raise SystemExit("node-opcua missing: run `bash scripts/node-peers.sh`")
        cmd = [
            node,
            "opcua_server.js",
            "--port",
            str(port),
            "--count",
            str(items),
            "--hz",
            f"{hz:g}",
        ]
        cwd = PEERS
    else:
        cmd = [
            sys.executable, "-m", "collector.simulator", "simulate",
            "--scenario", f"load:{items}@{hz:g}", "--opcua-port", str(port),
        ]  # fmt: skip
        cwd = ROOT
    with log.open("ab") as fh:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=fh, stderr=fh)
    wait_until(lambda: port_open(port), 90, f"{kind} server")
    return Server(kind, items, hz, port, proc, log, queue_size)


def missing_in(series: list[list[float]], step: float) -> tuple[int, int]:
    """(missing, expected) over each series' span, one reading per step."""
    missing = expected = 0
    for keys in series:
        if not keys:
            continue
        keys = sorted(set(keys))
        should = round((keys[-1] - keys[0]) / step) + 1
        expected += should
        missing += should - len(keys)
    return missing, expected


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of a running process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_bare(server: Server, warmup: float, seconds: float, log: Path) -> subprocess.Popen[str]:
    ids = log.with_suffix(".nodes.json")
    ids.write_text(json.dumps(server.node_ids()))
    args = [
        server.endpoint, str(ids), str(warmup), str(seconds),
        str(server.sampling_ms), "value" if server.by_value else "time", str(server.queue_size),
    ]  # fmt: skip
    with log.open("a") as errors:  # a stderr pipe could fill up and stall the client
        return subprocess.Popen(
            [sys.executable, "-c", BARE, *args],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=errors, text=True,
        )  # fmt: skip


def bare_result(proc: subprocess.Popen[str], seconds: float) -> dict[str, object]:
    assert proc.stdout is not None
    out = proc.stdout.read()
    if proc.wait(120) != 0:
        raise RuntimeError(f"bare client failed (exit {proc.returncode})")
    doc = json.loads(out.strip().splitlines()[-1])
    return {"rate": doc["in_window"] / seconds, "cpu": doc["cpu"], "series": doc["series"]}


def wait_start(proc: subprocess.Popen[str], timeout: float) -> None:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.strip() == "START":
            return
        if not line and proc.poll() is not None:
            raise RuntimeError(f"bare client exited early (exit {proc.returncode})")
    raise TimeoutError("bare client did not start measuring")


def collector_config(tmp: Path, server: Server, ingest_port: int, health: int) -> Path:
    nodes = "".join(
        f'[[opcua.nodes]]\nnode_id = "{node_id}"\ncharacteristic = "bench.c{i:05d}"\n'
        for i, node_id in enumerate(server.node_ids())
    )
    cfg = tmp / f"collector-{server.kind}-{server.items}.toml"
    cfg.write_text(
        f"""
[collector]
name = "bench-opcua"
log_format = "json"
[buffer]
path = "{tmp}/buffer-{server.kind}-{server.items}.db"
[sink]
url = "http://127.0.0.1:{ingest_port}/api/v1/measurements"
token_env = "LINEWATCH_TEST_TOKEN"
[health]
listen = "127.0.0.1:{health}"
[[opcua]]
endpoint = "{server.endpoint}"
sampling_interval_ms = {server.sampling_ms}
publishing_interval_ms = 500
queue_size = {server.queue_size}
max_nodes_per_connection = 500
{nodes}"""
    )
    return cfg


def metric(health: int, pattern: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{health}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    m = re.search(pattern, text)
    return float(m.group(1)) if m else 0.0


def start_collector(
    tmp: Path, server: Server, ingest: IngestServer
) -> tuple[subprocess.Popen[bytes], int]:
    health = free_port()
    cfg = collector_config(tmp, server, ingest.port, health)
    log = tmp / f"collector-{server.kind}-{server.items}.log"
    env = {**os.environ, "LINEWATCH_TEST_TOKEN": "test-token"}
    with log.open("ab") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "collector", "--config", str(cfg)],
            cwd=ROOT, env=env, stdout=fh, stderr=fh,
        )  # fmt: skip
    wait_until(lambda: port_open(health), 30, "collector health port")
    wait_until(lambda: metric(health, READINGS_IN) > 0, 60, "first OPC UA readings")
    return proc, health


def stop_collector(
    proc: subprocess.Popen[bytes], ingest: IngestServer, by_value: bool
) -> dict[str, object]:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
    with ingest.state.lock:
        stored = list(ingest.state.stored)
    series: dict[str, list[float]] = defaultdict(list)
    for rec in stored:
        if by_value:
            series[rec["characteristic"]].append(float(rec["value"]))
        else:
            ts = datetime.fromisoformat(rec["ts"].replace("Z", "+00:00")).timestamp()
            series[rec["characteristic"]].append(ts)
    return {"series": list(series.values()), "forwarded": len(stored)}


def run_round(
    tmp: Path,
    kind: str,
    items: int,
    hz: float,
    warmup: float,
    seconds: float,
    together: bool,
    queue_size: int,
) -> dict[str, object]:
    server = start_server(kind, items, hz, tmp, queue_size)
    ingest = IngestServer(free_port()).start()
    bare_log = tmp / f"bare-{kind}-{items}.log"
    try:
        time.sleep(2.0)
        cpu_srv0, t_srv0 = proc_cpu(server.proc.pid), time.monotonic()
        if not together:
            bare = bare_result(start_bare(server, warmup, seconds, bare_log), seconds)
        col_proc, health = start_collector(tmp, server, ingest)
        time.sleep(warmup)
        if together:
            bare_proc = start_bare(server, warmup, seconds, bare_log)
            wait_start(bare_proc, 120)  # the collector is measured over the bare client's window
        n0, cpu0, t0 = metric(health, READINGS_IN), proc_cpu(col_proc.pid), time.monotonic()
        if together:
            bare = bare_result(bare_proc, seconds)
        else:
            time.sleep(seconds)
        n1, cpu1, t1 = metric(health, READINGS_IN), proc_cpu(col_proc.pid), time.monotonic()
        col: dict[str, object] = {"rate": (n1 - n0) / (t1 - t0), "cpu": cpu1 - cpu0}
        col.update(stop_collector(col_proc, ingest, server.by_value))
        server_cpu = (proc_cpu(server.proc.pid) - cpu_srv0) / (time.monotonic() - t_srv0)
    finally:
        ingest.stop()
        server.stop()
    out: dict[str, object] = {
        "server": kind,
        "items": items,
        "hz": hz,
        "together": together,
        "queue_size": queue_size,
        "server_cpu": server_cpu,
        "skipped": server.skipped(),
        "forwarded": col["forwarded"],
    }
    for name, r in (("bare", bare), ("collector", col)):
        missing, expected = missing_in(r["series"], server.step)  # type: ignore[arg-type]
        rate = float(r["rate"])  # type: ignore[arg-type]
        out[name] = {
            "rate": rate,
            "cpu_per_10k": float(r["cpu"]) / max(rate * seconds, 1.0) * 1e4,  # type: ignore[arg-type]
            "missing": missing,
            "expected": expected,
        }
    return out


def table(r: dict[str, object]) -> str:
    bare, col = r["bare"], r["collector"]
    assert isinstance(bare, dict) and isinstance(col, dict)
    name = "the line simulator (asyncua)" if r["server"] == "asyncua" else "node-opcua"
    skipped = "" if r["skipped"] is None else f", skipped {r['skipped']:,} late samples"
    lines = [
        f"**{r['items']:,} items at {r['hz']:g} Hz from {name}, readers"
        f" {'at the same time' if r['together'] else 'one after the other'},"
        f" queue size {r['queue_size']}**"
        f" (offered {r['items'] * r['hz']:,.0f} values/s; the server used"  # type: ignore[operator]
        f" {float(r['server_cpu']):.0%} of a core{skipped})",
        "",
        "| reader | readings/s | missing / expected | CPU s per 10k readings |",
        "| --- | ---: | ---: | ---: |",
    ]
    for label, d in (("bare asyncua client", bare), ("collector (buffer + sink on)", col)):
        lines.append(
            f"| {label} | {d['rate']:,.0f} | {d['missing']:,} / {d['expected']:,} |"
            f" {d['cpu_per_10k']:.2f} |"
        )
    ratio = col["rate"] / bare["rate"] if bare["rate"] else float("nan")
    lines += [
        "",
        f"ratio collector / bare: **{ratio:.2f}** (target >= 0.7);"
        f" readings forwarded to the ingest server: {r['forwarded']:,}",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--server", choices=("asyncua", "node", "both"), default="both")
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--hz", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--sequential", action="store_true", help="one reader after the other")
    parser.add_argument(
        "--saturate", type=int, default=0, help="a second round with this many items"
    )
    parser.add_argument("--queue-size", type=int, default=10, help="monitored-item queue size")
    parser.add_argument("--keep", type=Path, help="keep configs and logs in this folder")
    args = parser.parse_args()
    kinds = ("asyncua", "node") if args.server == "both" else (args.server,)
    sizes = (args.items, args.saturate) if args.saturate else (args.items,)
    load = os.getloadavg()[0]
    results = []
    with tempfile.TemporaryDirectory() as tmpdir:
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            tmpdir = str(args.keep)
        for kind in kinds:
            for items in sizes:
                results.append(
                    run_round(
                        Path(tmpdir),
                        kind,
                        items,
                        args.hz,
                        args.warmup,
                        args.seconds,
                        not args.sequential,
                        args.queue_size,
                    )
                )
    print(f"machine: {os.cpu_count()} CPUs, 1-min load average before the run {load:.2f}\n")
    for r in results:
        print(table(r))
        print()


if __name__ == "__main__":
    main()
