"""The OPC UA source's pure parts: quality, timestamps, context matching, connection planning."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

import pytest
from asyncua import ua

from collector.config import OpcuaNodeConfig, OpcuaSourceConfig
from collector.sources.opcua.convert import (
    ContextHistory,
    as_number,
    iso,
    pick_timestamp,
    quality_of,
)
from collector.sources.opcua.nodeids import NodeIdError, parse_node_id, resolve_node_id
from collector.sources.opcua.plan import plan_connections
from collector.sources.opcua.source import OpcuaSource, build

T0 = datetime(2026, 11, 26, 10, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("code", "quality"),
    [
        (ua.StatusCodes.Good, "good"),
        (ua.StatusCodes.GoodClamped, "good"),
        (ua.StatusCodes.UncertainLastUsableValue, "uncertain"),
        (ua.StatusCodes.UncertainSensorNotAccurate, "uncertain"),
        (ua.StatusCodes.BadSensorFailure, "bad"),
        (ua.StatusCodes.BadCommunicationError, "bad"),
        (ua.StatusCodes.BadNoCommunication, "bad"),
    ],
)
def test_quality_from_the_status_code_severity_bits(code: int, quality: str) -> None:
    assert quality_of(ua.StatusCode(code)) == quality


def test_missing_status_code_is_good() -> None:
    assert quality_of(None) == "good"


def test_iso_is_utc_with_z() -> None:
    assert iso(T0.replace(microsecond=123000)) == "2026-11-26T10:00:00.123000Z"
    plus2 = timezone(timedelta(hours=2))
    assert iso(datetime(2026, 11, 26, 12, 0, tzinfo=plus2)) == "2026-11-26T10:00:00.000000Z"
    assert iso(datetime(2026, 11, 26, 10, 0)) == "2026-11-26T10:00:00.000000Z"  # naive = UTC


def test_timestamp_choice_falls_back_in_order() -> None:
    src, srv, rcv = T0, T0 + timedelta(seconds=1), T0 + timedelta(seconds=2)
    assert pick_timestamp("source", src, srv, rcv) == src
    assert pick_timestamp("source", None, srv, rcv) == srv
    assert pick_timestamp("source", None, None, rcv) == rcv
    assert pick_timestamp("server", src, srv, rcv) == srv
    assert pick_timestamp("server", src, None, rcv) == src
    assert pick_timestamp("receive", src, srv, rcv) == rcv


def test_numbers_and_booleans_are_values_other_types_are_not() -> None:
    assert as_number(3) == 3.0 and as_number(2.5) == 2.5
    assert as_number(True) == 1.0 and as_number(False) == 0.0
    assert as_number("1.5") is None and as_number([1.0]) is None and as_number(None) is None


def test_context_is_the_value_current_at_the_readings_timestamp() -> None:
    lots = ContextHistory()
    assert lots.at(T0) is None
    lots.add(T0, "L1")
    lots.add(T0 + timedelta(seconds=10), "L2")
    assert lots.at(T0 + timedelta(seconds=5)) == "L1"
    assert lots.at(T0 + timedelta(seconds=10)) == "L2"  # same timestamp: written just before
    assert lots.at(T0 + timedelta(seconds=99)) == "L2"
    assert lots.at(T0 - timedelta(seconds=1)) == "L1"  # older than all we know: the oldest
    assert lots.at(None) == "L2"
    lots.add(T0 + timedelta(seconds=20), "")
    assert lots.at(T0 + timedelta(seconds=30)) is None  # an empty string is no lot


def test_context_history_is_bounded() -> None:
    h = ContextHistory(maxlen=3)
    for i in range(10):
        h.add(T0 + timedelta(seconds=i), f"L{i}")
    assert h.at(T0) == "L7"


def _nodes(n: int, *, lot: str | None = None) -> list[OpcuaNodeConfig]:
    return [
        OpcuaNodeConfig(
            node_id=f"ns=2;s=v{i}",
            characteristic=f"c{i}",
            lot_node_id=lot,
            serial_node_id=f"ns=2;s=s{i}",
        )
        for i in range(n)
    ]


def test_plan_spreads_nodes_and_keeps_each_mapping_with_its_context() -> None:
    plans = plan_connections(_nodes(10, lot="ns=2;s=lot"), max_nodes=7)
    # each mapping brings its value and serial; the shared lot node is counted once per connection
    assert [len(p.node_ids()) for p in plans] == [7, 7, 7, 3]  # lot + 3 x (value, serial)
    for p in plans:
        assert "ns=2;s=lot" in p.contexts
        for node, targets in p.values.items():
            serial = node.replace("v", "s")
            assert serial in p.contexts and targets[0].serial == serial
    assert sum(len(p.values) for p in plans) == 10


def test_plan_gives_an_oversized_mapping_its_own_connection() -> None:
    plans = plan_connections(_nodes(3, lot="ns=2;s=lot"), max_nodes=2)
    assert [len(p.node_ids()) for p in plans] == [3, 3, 3]


def test_plan_merges_two_characteristics_of_one_node() -> None:
    nodes = [
        OpcuaNodeConfig(node_id="ns=2;s=v", characteristic="a"),
        OpcuaNodeConfig(node_id="ns=2;s=v", characteristic="b", scale=2.0),
    ]
    (plan,) = plan_connections(nodes, max_nodes=10)
    assert [t.characteristic for t in plan.values["ns=2;s=v"]] == ["a", "b"]


def test_node_ids_resolve_namespace_uris_against_the_server() -> None:
    namespaces = ["http://opcfoundation.org/UA/", "urn:server", "urn:acme:line1"]
    assert resolve_node_id("nsu=urn:acme:line1;s=Bore", namespaces) == ua.NodeId("Bore", 2)
    assert resolve_node_id("ns=5;i=7", namespaces) == ua.NodeId(7, 5)
    with pytest.raises(NodeIdError, match="no namespace 'urn:other'"):
        resolve_node_id("nsu=urn:other;i=1", namespaces)
    with pytest.raises(NodeIdError, match="invalid node id"):
        parse_node_id("not a node id")


def _cfg(**kw: object) -> OpcuaSourceConfig:
    base: dict[str, object] = {
        "name": "plc",
        "endpoint": "opc.tcp://127.0.0.1:4840",
        "nodes": [{"node_id": "ns=2;s=v", "characteristic": "c"}],
    }
    return OpcuaSourceConfig.model_validate({**base, **kw})


def test_build_checks_what_it_can_without_the_network(tmp_path, monkeypatch) -> None:
    source = build(_cfg(max_nodes_per_connection=1), "plc")
    assert isinstance(source, OpcuaSource) and source.name == "plc" and len(source.plans) == 1
    assert source.stats()["connections"] == 1.0
    with pytest.raises(NodeIdError):
        build(_cfg(nodes=[{"node_id": "garbage", "characteristic": "c"}]), "plc")
    with pytest.raises(ValueError, match="no such file"):
        build(
            _cfg(
                security_policy="Basic256Sha256",
                certificate=str(tmp_path / "missing.der"),
                private_key=str(tmp_path / "missing.pem"),
            ),
            "plc",
        )
    monkeypatch.delenv("LW_UNSET_PASSWORD", raising=False)
    with pytest.raises(ValueError, match="LW_UNSET_PASSWORD"):
        build(_cfg(username="u", password_env="LW_UNSET_PASSWORD"), "plc")


def test_queue_size_below_two_is_refused_by_the_config() -> None:
    with pytest.raises(ValueError, match="queue_size"):
        _cfg(queue_size=1)
    assert _cfg().queue_size >= 2


def test_nan_is_a_float() -> None:  # the value a bad reading without a value carries
    from collector.sources.opcua.convert import NAN

    assert math.isnan(NAN)


def _notification(
    handle: int, value: object, ts: datetime | None, status: int = ua.StatusCodes.Good
):
    dv = ua.DataValue(
        ua.Variant(value), StatusCode=ua.StatusCode(status), SourceTimestamp=ts, ServerTimestamp=ts
    )
    return ua.MonitoredItemNotification(ClientHandle=handle, Value=dv)


def _connection(nodes: list[dict[str, object]], rejects: list[str]):
    import asyncio

    from collector.sources.opcua.connection import Connection, OpcuaStats, _Item

    cfg = _cfg(nodes=nodes)
    (plan,) = plan_connections(cfg.nodes, 100)
    conn = Connection(
        cfg, plan, source="plc", reject=lambda r, s: rejects.append(r), wake=asyncio.Event(),
        stats=OpcuaStats(),
    )  # fmt: skip
    handles = {}
    for h, node in enumerate(
        [*plan.values, *[c for c in plan.contexts if c not in plan.values]], 1
    ):
        conn._items[h] = _Item(node, plan.values.get(node, []), conn._contexts.get(node))
        handles[node] = h
    return conn, handles


def test_notifications_become_samples_with_context_quality_and_no_repeats() -> None:
    rejects: list[str] = []
    nodes = [
        {"node_id": "ns=2;s=v", "characteristic": "c", "scale": 2.0, "lot_node_id": "ns=2;s=lot"}
    ]
    conn, h = _connection(nodes, rejects)
    t1, t2 = T0 + timedelta(seconds=1), T0 + timedelta(seconds=2)
    # one publish response: the value before its lot in the message, lot changes at t2
    conn._on_data(_notification(h["ns=2;s=lot"], "L1", T0))
    conn._on_data(_notification(h["ns=2;s=v"], 1.5, t1))
    conn._on_data(_notification(h["ns=2;s=v"], 2.5, t2))
    conn._on_data(_notification(h["ns=2;s=lot"], "L2", t2))
    conn._on_data(_notification(h["ns=2;s=v"], 2.5, t2))  # the initial value after resubscribing
    conn._on_data(
        _notification(
            h["ns=2;s=v"], None, t2 + timedelta(seconds=1), ua.StatusCodes.BadSensorFailure
        )
    )
    conn._on_data(_notification(h["ns=2;s=v"], "text", t2 + timedelta(seconds=2)))
    samples = conn.drain()
    assert [(s.value, s.lot, s.quality) for s in samples[:2]] == [
        (3.0, "L1", "good"),
        (5.0, "L2", "good"),
    ]
    assert samples[0].ts == "2026-11-26T10:00:01.000000Z"
    assert math.isnan(samples[2].value) and samples[2].quality == "bad" and samples[2].lot == "L2"
    assert len(samples) == 3 and conn.stats.duplicates == 1
    assert rejects == ["wrong-type: str value of ns=2;s=v"]
    assert conn.drain() == []
