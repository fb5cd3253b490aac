"""The simulated line as a Sparkplug B edge: one edge node per line, one device per station.

Sparkplug B 3.0: each edge node owns its MQTT session, registers NDEATH as its will, then
publishes NBIRTH (bdSeq, Node Control/Rebirth) and one DBIRTH per station before any DDATA;
`seq` runs 0..255 over every payload the node publishes (spec §6.4.21, §7). Metrics are named
`<characteristic>` (Double) with `<characteristic>/lot`, `/serial`, `/subgroup` (String) beside
it, one metric per sample with its own timestamp, so a DDATA carries a batch of parts. A sample
of bad or uncertain quality carries the conventional `Quality` property (0 bad, 64 uncertain,
192 good). An NCMD with Node Control/Rebirth = true republishes the births. The protobuf module
is the one generated from Eclipse Tahu's sparkplug_b.proto, imported when a publisher starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from collector.simulator.line import SimSample
from collector.simulator.scenario import CharacteristicSpec

log = logging.getLogger(__name__)

NAMESPACE = "spBv1.0"
# Sparkplug B DataType enum values (sparkplug_b.proto)
UINT64, DOUBLE, BOOLEAN, STRING, INT32 = 8, 10, 11, 12, 3
QUALITY_CODE = {"good": 192, "uncertain": 64, "bad": 0}


def _pb() -> Any:
    from collector.sources.sparkplug import sparkplug_b_pb2

    return sparkplug_b_pb2


def _ms(sample: SimSample) -> int:
    return round(sample.ts.timestamp() * 1000)


class _EdgeNode:
    """One line: its paho client, bdSeq and seq counters and its devices' metric names."""

    def __init__(
        self, owner: SparkplugPublisher, line: str, specs: Sequence[CharacteristicSpec]
    ) -> None:
        self.owner, self.line = owner, line
        self.devices: dict[str, list[CharacteristicSpec]] = defaultdict(list)
        for spec in specs:
            self.devices[spec.station].append(spec)
        self.bd_seq = 0
        self._seq = 0
        self._lock = threading.Lock()
        self.client: Any = None
        self.born = threading.Event()

    def topic(self, kind: str, device: str | None = None) -> str:
        base = f"{NAMESPACE}/{self.owner.group}/{kind}/{self.line}"
        return f"{base}/{device}" if device else base

    def next_seq(self) -> int:
        with self._lock:
            seq, self._seq = self._seq, (self._seq + 1) % 256
            return seq

    def death_payload(self) -> bytes:
        pb = _pb()
        payload = pb.Payload()
        payload.timestamp = int(time.time() * 1000)
        m = payload.metrics.add()
        m.name, m.datatype, m.long_value = "bdSeq", UINT64, self.bd_seq
        return payload.SerializeToString()

    def start(self) -> None:
        import paho.mqtt.client as mqtt

        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"{self.owner.client_prefix}-{self.line}"
        )
        client.max_inflight_messages_set(self.owner.max_inflight)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.will_set(self.topic("NDEATH"), self.death_payload(), qos=1, retain=False)
        client.on_connect = self._on_connect
        client.on_message = self._on_message
        self.client = client  # before connecting: on_connect publishes through it
        client.connect_async(self.owner.host, self.owner.port, keepalive=30)
        client.loop_start()

    def _on_connect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any = None
    ) -> None:
        if getattr(reason, "is_failure", False):
            return
        client.subscribe(self.topic("NCMD"), qos=1)
        self.publish_births()

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        pb = _pb()
        payload = pb.Payload()
        try:
            payload.ParseFromString(message.payload)
        except Exception:
            log.warning("undecodable NCMD ignored")
            return
        for m in payload.metrics:
            if m.name == "Node Control/Rebirth" and m.boolean_value:
                self.publish_births()

    def publish_births(self) -> None:
        """NBIRTH then every DBIRTH; seq restarts at 0 with each NBIRTH (spec §7.1)."""
        pb = _pb()
        with self._lock:
            self._seq = 0
        now = int(time.time() * 1000)
        nbirth = pb.Payload()
        nbirth.timestamp, nbirth.seq = now, self.next_seq()
        m = nbirth.metrics.add()
        m.name, m.datatype, m.long_value = "bdSeq", UINT64, self.bd_seq
        m = nbirth.metrics.add()
        m.name, m.datatype, m.boolean_value = "Node Control/Rebirth", BOOLEAN, False
        self.client.publish(self.topic("NBIRTH"), nbirth.SerializeToString(), qos=0)
        for device, specs in self.devices.items():
            dbirth = pb.Payload()
            dbirth.timestamp, dbirth.seq = now, self.next_seq()
            for spec in specs:
                m = dbirth.metrics.add()
                m.name, m.datatype, m.timestamp = spec.short_name, DOUBLE, now
                m.double_value = float(spec.mean)
                for field in _context_fields(spec):
                    m = dbirth.metrics.add()
                    m.name, m.datatype, m.timestamp = f"{spec.short_name}/{field}", STRING, now
                    m.string_value = ""
            self.client.publish(self.topic("DBIRTH", device), dbirth.SerializeToString(), qos=0)
        self.born.set()

    def publish_data(self, device: str, samples: Sequence[SimSample]) -> bool:
        pb = _pb()
        payload = pb.Payload()
        payload.timestamp = int(time.time() * 1000)
        for s in samples:
            name, ts = s.characteristic.split(".")[2], _ms(s)
            for field, text in (("lot", s.lot), ("serial", s.serial), ("subgroup", s.subgroup)):
                if text is not None:
                    m = payload.metrics.add()
                    m.name, m.datatype, m.timestamp, m.string_value = (
                        f"{name}/{field}",
                        STRING,
                        ts,
                        text,
                    )
            m = payload.metrics.add()
            m.name, m.datatype, m.timestamp, m.double_value = name, DOUBLE, ts, float(s.value)
            if s.quality != "good":
                m.properties.keys.append("Quality")
                q = m.properties.values.add()
                q.type, q.int_value = INT32, QUALITY_CODE[s.quality]
        payload.seq = self.next_seq()
        info = self.client.publish(
            self.topic("DDATA", device), payload.SerializeToString(), qos=self.owner.qos
        )
        return bool(info.rc == 0)

    def stop(self) -> None:
        if self.client is None:
            return
        client, self.client = self.client, None
        # An orderly shutdown publishes NDEATH itself: the broker drops the will on DISCONNECT.
        info = client.publish(self.topic("NDEATH"), self.death_payload(), qos=1)
        with contextlib.suppress(RuntimeError, ValueError):
            info.wait_for_publish(2.0)
        client.disconnect()
        client.loop_stop()


def _context_fields(spec: CharacteristicSpec) -> tuple[str, ...]:
    out = []
    if spec.has_lot:
        out.append("lot")
    if spec.has_serial:
        out.append("serial")
    if spec.has_subgroup:
        out.append("subgroup")
    return tuple(out)


class SparkplugPublisher:
    """Publishes samples as Sparkplug B DDATA, one edge node per line and one device per station."""

    def __init__(
        self,
        specs: Sequence[CharacteristicSpec],
        host: str = "127.0.0.1",
        port: int = 1883,
        *,
        group: str = "linewatch",
        qos: int = 0,
        client_prefix: str | None = None,
        max_inflight: int = 1000,
    ) -> None:
        self.host, self.port, self.group, self.qos = host, port, group, qos
        self.client_prefix = client_prefix or f"linewatch-sim-spb-{uuid.uuid4().hex[:8]}"
        self.max_inflight = max_inflight
        by_line: dict[str, list[CharacteristicSpec]] = defaultdict(list)
        for spec in specs:
            by_line[spec.line].append(spec)
        self.nodes = {line: _EdgeNode(self, line, s) for line, s in by_line.items()}
        self.published = 0

    async def start(self) -> None:
        _pb()  # fail fast when the generated module is missing
        for node in self.nodes.values():
            node.start()
        # The first samples should not be lost to a connection still being made (bounded wait;
        # a broker that is down only delays the births, the paho loop keeps reconnecting).
        for node in self.nodes.values():
            await asyncio.to_thread(node.born.wait, 5.0)

    async def publish(self, samples: Iterable[SimSample]) -> None:
        batches: dict[tuple[str, str], list[SimSample]] = defaultdict(list)
        for s in samples:
            line, station, _ = s.characteristic.split(".")
            batches[(line, station)].append(s)
        for (line, station), batch in batches.items():
            node = self.nodes[line]
            if not node.born.is_set():
                continue  # nothing may precede the births; the line is not connected yet
            if node.publish_data(station, batch):
                self.published += len(batch)

    async def stop(self) -> None:
        for node in self.nodes.values():
            await asyncio.to_thread(node.stop)
