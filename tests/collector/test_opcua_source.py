"""The OPC UA source against a real asyncua server in another process (the line simulator).

The simulator is seeded, so every value it writes is known in advance: a reading's serial number
gives its part index k, and the value and lot must be exactly the model's k-th. "None missing"
is checked as contiguous serials from the first reading to the last, per characteristic.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from collector.config import OpcuaSourceConfig
from collector.simulator.line import Line
from collector.simulator.scenario import parse_scenario
from collector.sources.base import SourceSample
from collector.sources.opcua.source import OpcuaSource, build

ROOT = Path(__file__).resolve().parents[2]
NSU = "nsu=urn:linewatch:simulator"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class Simulator:
    """`python -m collector.simulator simulate` in a child process, restartable on its port."""

    def __init__(
        self, tmp: Path, scenario: dict[str, Any], *extra: str, env: dict[str, str] | None = None
    ):
        self.port = _free_port()
        self.scenario_path = tmp / f"scenario-{self.port}.json"
        self.scenario_path.write_text(json.dumps(scenario))
        self.extra = extra
        self.env = {**os.environ, **(env or {})}
        self.log = tmp / f"simulator-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"opc.tcp://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> Simulator:
        cmd = [
            sys.executable, "-m", "collector.simulator", "simulate",
            "--scenario", str(self.scenario_path), "--opcua-port", str(self.port),
            "--max-lag", "0", *self.extra,
        ]  # fmt: skip
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while not _port_open(self.port):
            if self.proc.poll() is not None:
                raise RuntimeError(f"simulator exited: {self.log.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"simulator did not listen: {self.log.read_text()[-2000:]}")
            time.sleep(0.1)
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, sig)


@pytest.fixture
def simulators(tmp_path: Path) -> Iterator[Callable[..., Simulator]]:
    made: list[Simulator] = []

    def make(scenario: dict[str, Any], *extra: str, env: dict[str, str] | None = None) -> Simulator:
        sim = Simulator(tmp_path, scenario, *extra, env=env)
        made.append(sim)
        return sim.start()

    yield make
    for sim in made:
        if sim.proc is not None and sim.proc.poll() is None:
            with_signal = sim.proc
            with_signal.send_signal(signal.SIGCONT)
            sim.kill()


def scenario(count: int, period: float, *, seed: int = 7, **extra: Any) -> dict[str, Any]:
    return {
        "name": "test",
        "seed": seed,
        "characteristics": [
            {
                "key": f"line{1 + i % 2}.op{10 + i // 2:02d}.c{i:03d}",
                "mean": 50.0 + i,
                "sigma": 0.5,
                "decimals": 4,
                "period": period,
                "lot_parts": 7,
                **extra,
            }
            for i in range(count)
        ],
    }


def shared_scenario() -> dict[str, Any]:
    """c000 and c003 in control, c001 a sensor reporting Bad, c002 in subgroups of 5; 10 Hz."""
    sc = scenario(4, 0.1, seed=17)
    sc["characteristics"][1]["behaviours"] = [{"kind": "fault", "at": 0.0}]
    sc["characteristics"][2]["subgroup_size"] = 5
    return sc


SHARED = shared_scenario()


@pytest.fixture(scope="module")
def shared_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    """One simulator process for the tests that only read."""
    sim = Simulator(tmp_path_factory.mktemp("sim"), SHARED).start()
    yield sim
    sim.kill()


def node_config(
    sc: dict[str, Any], *, lot: bool = True, serial: bool = True
) -> list[dict[str, Any]]:
    nodes = []
    for c in sc["characteristics"]:
        key = c["key"]
        node: dict[str, Any] = {"node_id": f"{NSU};s={key}", "characteristic": key}
        if lot:
            node["lot_node_id"] = f"{NSU};s={key}.lot"
        if serial:
            node["serial_node_id"] = f"{NSU};s={key}.serial"
        nodes.append(node)
    return nodes


def source_config(endpoint: str, nodes: list[dict[str, Any]], **kw: Any) -> OpcuaSourceConfig:
    # The simulator never skips a late sample (--max-lag 0): on a busy machine it writes its
    # backlog in a burst, which a deep queue absorbs, so "none missing" holds under load too.
    base = {"name": "opcua-test", "endpoint": endpoint, "nodes": nodes, "queue_size": 100}
    return OpcuaSourceConfig.model_validate({**base, **kw})


async def collect(
    source: OpcuaSource,
    until: Callable[[list[SourceSample]], bool],
    *,
    timeout: float,
    during: Callable[[list[SourceSample]], Any] | None = None,
) -> list[SourceSample]:
    """Runs the source until `until(samples)` holds (or `timeout`); returns every sample emitted."""
    got: list[SourceSample] = []
    rejects: list[tuple[str, str]] = []

    async def emit(samples: Any, *, receipts: Any = ()) -> None:
        got.extend(samples)

    stop = asyncio.Event()
    task = asyncio.create_task(source.run(emit, lambda r, s: rejects.append((r, s)), stop))
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and not until(got):
            if task.done():
                task.result()
            if during is not None:
                await during(got)
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
    source.rejects = rejects  # type: ignore[attr-defined]
    return got


def expected_values(sc: dict[str, Any], parts: int) -> dict[str, list[Any]]:
    """The model's first `parts` samples per characteristic (what the simulator writes)."""
    line = Line.from_scenario(parse_scenario(sc), start=datetime(2026, 1, 1, tzinfo=UTC))
    period = sc["characteristics"][0]["period"]
    out: dict[str, list[Any]] = defaultdict(list)
    for s in line.sample(parts * period):
        out[s.characteristic].append(s)
    return out


def part_index(serial: str | None) -> int:
    assert serial is not None
    return int(serial.rsplit("-", 1)[1]) - 1


def by_characteristic(samples: list[SourceSample]) -> dict[str, list[SourceSample]]:
    out: dict[str, list[SourceSample]] = defaultdict(list)
    for s in samples:
        out[s.characteristic].append(s)
    return out


# --------------------------------------------------------------------------- reading


@pytest.mark.slow
def test_reads_every_value_the_server_wrote_over_several_connections(simulators):
    sc = scenario(24, 0.05)  # 24 characteristics at 20 Hz, each with lot and serial nodes
    sim = simulators(sc)
    cfg = source_config(
        sim.endpoint, node_config(sc), publishing_interval_ms=100, max_nodes_per_connection=30
    )
    source = build(cfg, "opcua-test")
    assert len(source.plans) == 3  # 72 variables, 30 per connection, value+lot+serial kept together

    samples = asyncio.run(
        collect(
            source, lambda got: len(by_characteristic(got)) == 24 and len(got) > 24 * 40, timeout=20
        )
    )

    expected = expected_values(sc, 2000)
    assert source.stats()["connected"] == 0  # stopped
    assert source.counters.connects == 3
    for key, got in by_characteristic(samples).items():
        ks = [part_index(s.serial) for s in got]
        assert ks == list(range(ks[0], ks[0] + len(ks))), f"{key}: missing or reordered parts"
        for s, k in zip(got, ks, strict=True):
            want = expected[key][k]
            assert s.value == want.value
            assert s.lot == want.lot
            assert s.quality == "good"
        # source timestamps: parts are exactly one period apart
        stamps = [datetime.fromisoformat(s.ts.replace("Z", "+00:00")) for s in got]
        gaps = {round((b - a).total_seconds(), 6) for a, b in itertools.pairwise(stamps)}
        assert gaps == {0.05}
    assert sum(len(v) for v in by_characteristic(samples).values()) == len(samples)


def test_bad_status_is_forwarded_flagged(shared_sim):
    healthy_key, faulty_key = (c["key"] for c in SHARED["characteristics"][:2])
    cfg = source_config(shared_sim.endpoint, node_config(SHARED)[:2], publishing_interval_ms=100)
    source = build(cfg, "opcua-test")

    samples = asyncio.run(
        collect(
            source, lambda got: len(by_characteristic(got).get(healthy_key, [])) >= 5, timeout=15
        )
    )
    faulty = by_characteristic(samples)[faulty_key]
    healthy = by_characteristic(samples)[healthy_key]
    # The server nulls the value of a Bad DataValue (Part 4 §7.7.1); with the StatusValue trigger
    # a repeated (Bad, null) is no change, so the fault is reported once, as NaN flagged "bad".
    assert len(faulty) == 1
    assert faulty[0].quality == "bad" and math.isnan(faulty[0].value)
    assert faulty[0].lot is not None and faulty[0].serial is not None
    assert len(healthy) >= 5 and all(
        s.quality == "good" and math.isfinite(s.value) for s in healthy
    )


def test_receive_timestamps_and_scale_offset(shared_sim):
    sc, sim = SHARED, shared_sim
    key = sc["characteristics"][0]["key"]
    nodes = [
        {"node_id": f"{NSU};s={key}", "characteristic": "scaled", "scale": 10.0, "offset": -500.0,
         "serial_node_id": f"{NSU};s={key}.serial"}
    ]  # fmt: skip
    cfg = source_config(sim.endpoint, nodes, timestamp="receive", publishing_interval_ms=200)
    before = datetime.now(UTC)
    samples = asyncio.run(collect(build(cfg, "t"), lambda got: len(got) >= 6, timeout=15))
    after = datetime.now(UTC)
    expected = expected_values(sc, 500)[key]
    for s in samples:
        want = expected[part_index(s.serial)].value
        assert s.value == pytest.approx(want * 10.0 - 500.0)
        ts = datetime.fromisoformat(s.ts.replace("Z", "+00:00"))
        assert before <= ts <= after
    # two parts (100 ms apart) arrive in each publish response (200 ms): receive times cluster
    stamps = [datetime.fromisoformat(s.ts.replace("Z", "+00:00")) for s in samples]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(stamps)]
    assert min(gaps) < 0.01 and max(gaps) > 0.1


def test_deadband_suppresses_small_changes(shared_sim):
    sc, sim = SHARED, shared_sim  # sigma 0.5, 10 Hz
    nodes = node_config(sc, lot=False)
    plain = asyncio.run(
        collect(build(source_config(sim.endpoint, nodes[:1]), "a"), lambda g: False, timeout=2)
    )
    banded = asyncio.run(
        collect(
            build(source_config(sim.endpoint, nodes[:1], deadband=1.0), "b"),
            lambda g: False,
            timeout=2,
        )
    )
    assert len(plain) >= 15
    assert 0 < len(banded) < len(plain) / 2
    # asyncua's server compares with the previous sample (Part 4 §7.22.2 says: the last value
    # reported); either way no reported change is within the deadband of that previous sample.
    series = expected_values(sc, 2000)[sc["characteristics"][0]["key"]]
    for s in banded[1:]:
        k = part_index(s.serial)
        assert s.value == series[k].value
        assert abs(series[k].value - series[k - 1].value) > 1.0


def test_unknown_node_is_rejected_and_the_others_still_read(shared_sim):
    sc, sim = SHARED, shared_sim
    nodes = node_config(sc, lot=False, serial=False)[:1]
    nodes.append({"node_id": f"{NSU};s=no.such.node", "characteristic": "ghost"})
    nodes.append({"node_id": "nsu=urn:not:there;s=x", "characteristic": "ghost2"})
    source = build(source_config(sim.endpoint, nodes), "t")
    samples = asyncio.run(collect(source, lambda got: len(got) >= 3, timeout=15))
    assert {s.characteristic for s in samples} == {sc["characteristics"][0]["key"]}
    reasons = " | ".join(r for r, _ in source.rejects)
    assert "BadNodeIdUnknown" in reasons and "urn:not:there" in reasons


# --------------------------------------------------------------------------- faults


@pytest.mark.slow
def test_server_restart_resubscribes_by_itself(simulators):
    sc = scenario(3, 0.1, seed=21)
    sim = simulators(sc)
    cfg = source_config(
        sim.endpoint, node_config(sc), publishing_interval_ms=100, watchdog_seconds=3
    )
    source = build(cfg, "t")
    state: dict[str, Any] = {}

    async def during(got: list[SourceSample]) -> None:
        if "killed" not in state and len(got) >= 10:
            sim.kill()  # a crash: no goodbye on the wire
            state["killed"] = len(got)
            await asyncio.sleep(1.0)
            await asyncio.to_thread(sim.start)
            state["restarted"] = datetime.now(UTC)

    def after_restart(got: list[SourceSample]) -> list[SourceSample]:
        since = state.get("restarted")
        if since is None:
            return []
        return [s for s in got if datetime.fromisoformat(s.ts.replace("Z", "+00:00")) > since]

    samples = asyncio.run(
        collect(source, lambda got: len(after_restart(got)) >= 9, timeout=40, during=during)
    )
    fresh = after_restart(samples)
    assert len(fresh) >= 9, f"no data after the restart: {source.stats()}"
    assert source.counters.connects >= 2 and source.counters.drops >= 1
    # the restarted simulator starts its seeded sequence over: the values are the model's again,
    # and from the resubscription on none is missing
    series = expected_values(sc, 2000)
    for key, got in by_characteristic(fresh).items():
        ks = [part_index(s.serial) for s in got]
        assert ks == list(range(ks[0], ks[0] + len(ks)))
        assert [s.value for s in got] == [series[key][k].value for k in ks]


@pytest.mark.slow
def test_frozen_server_is_dropped_and_read_again_when_it_thaws(simulators):
    sc = scenario(1, 0.1, seed=9)
    sim = simulators(sc)
    cfg = source_config(
        sim.endpoint, node_config(sc), publishing_interval_ms=100, watchdog_seconds=2
    )
    source = build(cfg, "t")
    state: dict[str, Any] = {}

    async def during(got: list[SourceSample]) -> None:
        if "frozen" not in state and len(got) >= 5:
            sim.signal(signal.SIGSTOP)  # the socket stays open, nothing answers
            state["frozen"] = time.monotonic()
        elif "thawed" not in state and "frozen" in state and source.counters.drops >= 1:
            sim.signal(signal.SIGCONT)
            state["thawed"] = len(got)

    samples = asyncio.run(
        collect(source, lambda got: "thawed" in state and len(got) >= state["thawed"] + 10,
                timeout=40, during=during)
    )  # fmt: skip
    assert "thawed" in state, f"the frozen server was never dropped: {source.stats()}"
    assert len(samples) >= state["thawed"] + 10
    assert source.counters.connects >= 2


def test_unreachable_server_backs_off_without_raising():
    port = _free_port()
    cfg = source_config(
        f"opc.tcp://127.0.0.1:{port}", [{"node_id": "ns=2;s=x", "characteristic": "x"}]
    )
    source = build(cfg, "t")
    started = time.monotonic()
    samples = asyncio.run(collect(source, lambda got: False, timeout=3.2))
    assert samples == []
    assert source.counters.connects == 0
    # 0.5 s, then 1 s, then 2 s (±20 %): three or four attempts in 3.2 s, not a busy loop
    assert 2 <= source.counters.drops <= 4
    assert time.monotonic() - started < 10


# --------------------------------------------------------------------------- security


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from asyncua.crypto.cert_gen import setup_self_signed_certificate
    from cryptography.x509.oid import ExtendedKeyUsageOID

    d = tmp_path_factory.mktemp("pki")
    out = {}
    for role, uri, use in (
        ("server", "urn:linewatch:simulator:server", ExtendedKeyUsageOID.SERVER_AUTH),
        ("client", "urn:linewatch:collector:test", ExtendedKeyUsageOID.CLIENT_AUTH),
    ):
        key, cert = d / f"{role}-key.pem", d / f"{role}-cert.der"
        asyncio.run(
            setup_self_signed_certificate(
                key, cert, uri, socket.gethostname(), [use], {"organizationName": "Linewatch"}
            )
        )
        out[f"{role}_key"], out[f"{role}_cert"] = key, cert
    return out


@pytest.mark.slow
def test_basic256sha256_with_certificate_and_password(simulators, certificates, monkeypatch):
    sc = scenario(1, 0.1, seed=13)
    sim = simulators(
        sc,
        "--opcua-security", "basic256sha256",
        "--opcua-cert", str(certificates["server_cert"]),
        "--opcua-key", str(certificates["server_key"]),
        "--opcua-user", "quality",
        env={"LINEWATCH_SIM_OPCUA_PASSWORD": "s3cret"},
    )  # fmt: skip
    monkeypatch.setenv("LW_TEST_OPCUA_PW", "s3cret")
    secure = {
        "security_policy": "Basic256Sha256",
        "certificate": str(certificates["client_cert"]),
        "private_key": str(certificates["client_key"]),
        "username": "quality",
        "password_env": "LW_TEST_OPCUA_PW",
    }
    cfg = source_config(sim.endpoint, node_config(sc), **secure)
    samples = asyncio.run(collect(build(cfg, "t"), lambda got: len(got) >= 5, timeout=20))
    assert len(samples) >= 5
    expected = expected_values(sc, 2000)[sc["characteristics"][0]["key"]]
    assert all(s.value == expected[part_index(s.serial)].value for s in samples)

    # a wrong password reads nothing and keeps retrying without raising
    monkeypatch.setenv("LW_TEST_OPCUA_PW", "wrong")
    denied = build(source_config(sim.endpoint, node_config(sc), **secure), "t")
    assert asyncio.run(collect(denied, lambda got: False, timeout=3)) == []
    assert denied.counters.connects == 0 and denied.counters.drops >= 1
    # and an unsecured client finds no endpoint it may use
    plain = build(source_config(sim.endpoint, node_config(sc)), "t")
    assert asyncio.run(collect(plain, lambda got: False, timeout=2)) == []


# --------------------------------------------------------------------------- browse


@pytest.mark.slow
def test_browse_prints_the_tree_and_a_config_that_reads(shared_sim):
    from collector.config import CollectorConfig

    sc, sim = SHARED, shared_sim
    run = [sys.executable, "-m", "collector.simulator", "browse", sim.endpoint]
    tree = subprocess.run(run, capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert tree.returncode == 0, tree.stderr
    first = sc["characteristics"][2]["key"]
    assert f"ns=2;s={first}" in tree.stdout and "[Double = " in tree.stdout
    assert f"ns=2;s={first}.subgroup" in tree.stdout

    toml = subprocess.run(
        [*run, "--format", "toml"], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert toml.returncode == 0, toml.stderr
    import tomllib

    data = tomllib.loads(toml.stdout)
    cfg = CollectorConfig.model_validate(data).opcua[0]
    assert sorted(n.characteristic for n in cfg.nodes) == sorted(
        c["key"] for c in sc["characteristics"]
    )
    by_key = {n.characteristic: n for n in cfg.nodes}
    assert by_key[first].subgroup_node_id == f"{NSU};s={first}.subgroup"
    assert by_key[first].lot_node_id == f"{NSU};s={first}.lot"
    samples = asyncio.run(collect(build(cfg, "t"), lambda got: len(got) >= 6, timeout=15))
    assert {s.characteristic for s in samples} <= {c["key"] for c in sc["characteristics"]}
    assert all(s.serial for s in samples)


def test_browse_bad_input_exits_2_with_one_line():
    for args in (
        ["browse", "http://nope"],
        ["browse", f"opc.tcp://127.0.0.1:{_free_port()}", "--timeout", "2"],
    ):
        out = subprocess.run(
            [sys.executable, "-m", "collector.simulator", *args],
            capture_output=True, text=True, timeout=60, cwd=ROOT,
        )  # fmt: skip
        assert out.returncode == 2
        assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr


# --------------------------------------------------------------------------- end to end


@pytest.mark.slow
def test_collector_forwards_opcua_readings_to_the_service(
    shared_sim, tmp_path, ingest, run_collector
):
    """The registry builds the source; readings go through the disk buffer to the ingest API."""
    from collector_support import config_text

    from collector.config import parse_config

    key = SHARED["characteristics"][2]["key"]  # subgroups of 5, with lot and serial
    sources = f"""
[[opcua]]
endpoint = "{shared_sim.endpoint}"
publishing_interval_ms = 100
queue_size = 100
[[opcua.nodes]]
node_id = "{NSU};s={key}"
characteristic = "{key}"
lot_node_id = "{NSU};s={key}.lot"
serial_node_id = "{NSU};s={key}.serial"
subgroup_node_id = "{NSU};s={key}.subgroup"
"""
    cfg = parse_config(
        config_text(buffer=tmp_path / "buf.db", sink_url=ingest.url, sources=sources)
    )
    rc = run_collector(cfg)
    try:
        ingest.wait_for(12, timeout=20)
    finally:
        rc.stop()
    stored = [r for r in ingest.state.stored if r["characteristic"] == key]
    expected = expected_values(SHARED, 5000)[key]
    ks = [part_index(r["serial"]) for r in stored]
    assert ks == list(range(ks[0], ks[0] + len(ks)))
    for r, k in zip(stored, ks, strict=True):
        want = expected[k]
        assert (r["value"], r["lot"], r["subgroup"]) == (want.value, want.lot, want.subgroup)
        assert r["source"] == "test-collector" and isinstance(r["seq"], int)
