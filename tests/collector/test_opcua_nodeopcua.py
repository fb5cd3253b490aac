"""The OPC UA source against an independent server: node-opcua, on the machine's Node.js.

tests/peers/opcua_server.js sets every variable v0000.. to k on tick k, so a reader that lost
nothing reads 0, 1, 2, ... without gaps; `quality` cycles Good, Uncertain, Bad and `lot` is
"LOT-<k div 10>", written just before the values with the same source timestamp. node-opcua is
installed by `bash scripts/node-peers.sh` (`make test` runs it); a missing Node.js
or node_modules fails these tests, never skips them.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
import socket
import subprocess
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from collector.config import OpcuaSourceConfig
from collector.sources.base import SourceSample
from collector.sources.opcua.source import build

PEERS = Path(__file__).resolve().parents[1] / "peers"
NSU = "nsu=urn:linewatch:test:node-opcua"


def _require_node() -> str:
    node = shutil.which("node")
    missing = None
    if node is None:
        missing = "Node.js (`node`) is not installed"
    elif not (PEERS / "node_modules" / "node-opcua").is_dir():
        missing = "node-opcua is not installed in tests/peers (run `bash scripts/node-peers.sh`)"
    if missing:
        pytest.fail(missing)
    assert node is not None
    return node


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def node_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    node = _require_node()
    port = _free_port()
    log = tmp_path_factory.mktemp("node-opcua") / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [node, "opcua_server.js", "--port", str(port), "--count", "50", "--hz", "20"],
            cwd=PEERS,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while b"READY" not in log.read_bytes():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"node-opcua server did not start: {log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield f"opc.tcp://127.0.0.1:{port}", 50
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


async def _collect(cfg: OpcuaSourceConfig, seconds: float) -> tuple[list[SourceSample], list[str]]:
    got: list[SourceSample] = []
    rejects: list[str] = []

    async def emit(samples: list[SourceSample], *, receipts: object = ()) -> None:
        got.extend(samples)

    stop = asyncio.Event()
    source = build(cfg, "node-opcua")
    task = asyncio.create_task(source.run(emit, lambda r, s: rejects.append(r), stop))
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.wait_for(task, 15)
    return got, rejects


@pytest.mark.slow
def test_reads_node_opcua_without_missing_values(node_server):
    endpoint, count = node_server
    nodes = [
        {
            "node_id": f"{NSU};s=v{i:04d}",
            "characteristic": f"peer.v{i:04d}",
            "lot_node_id": f"{NSU};s=lot",
        }
        for i in range(count)
    ]
    nodes.append({"node_id": f"{NSU};s=quality", "characteristic": "peer.quality"})
    cfg = OpcuaSourceConfig.model_validate(
        {
            "name": "node-opcua",
            "endpoint": endpoint,
            # 0 = report every change (node-opcua samples on a timer otherwise)
            "sampling_interval_ms": 0,
            "publishing_interval_ms": 100,
            "max_nodes_per_connection": 20,  # 3 connections, the shared lot node on each
            "nodes": nodes,
        }
    )
    samples, rejects = asyncio.run(_collect(cfg, 4.0))
    assert rejects == []

    series: dict[str, list[SourceSample]] = defaultdict(list)
    for s in samples:
        series[s.characteristic].append(s)
    assert len(series) == count + 1
    for i in range(count):
        got = series[f"peer.v{i:04d}"]
        ks = [int(s.value) for s in got]
        assert len(ks) >= 20, f"v{i:04d}: only {len(ks)} values in 4 s at 20 Hz"
        assert ks == list(range(ks[0], ks[0] + len(ks))), f"v{i:04d}: values missing"
        for s, k in zip(got, ks, strict=True):
            assert s.lot == f"LOT-{k // 10}", f"v{i:04d} k={k}: lot {s.lot}"
            assert s.quality == "good"
    quality = {int(s.value) % 3: s.quality for s in series["peer.quality"]}
    assert quality == {0: "good", 1: "uncertain", 2: "bad"}


def test_node_opcua_deadband_reports_only_big_changes(node_server):
    endpoint, _ = node_server
    cfg = OpcuaSourceConfig.model_validate(
        {
            "name": "node-opcua",
            "endpoint": endpoint,
            "sampling_interval_ms": 0,
            "publishing_interval_ms": 100,
            "deadband": 4.5,
            "nodes": [{"node_id": f"{NSU};s=v0000", "characteristic": "peer.v0000"}],
        }
    )
    samples, _ = asyncio.run(_collect(cfg, 2.0))
    values = [int(s.value) for s in samples]
    assert len(values) >= 5
    # the value climbs by 1 per tick: only every 5th change exceeds the last reported by > 4.5
    assert all(b - a == 5 for a, b in itertools.pairwise(values))
