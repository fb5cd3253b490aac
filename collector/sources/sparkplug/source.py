"""The `[[sparkplug]]` source: Sparkplug B edge nodes and devices, as a host application reads them.

Sparkplug B (Eclipse Sparkplug 3.0) in short: an edge node publishes NBIRTH (all its metrics
with names, aliases and data types, `seq` 0, and a `bdSeq` metric), DBIRTH per device, then
NDATA/DDATA carrying only aliases and changed values, each message numbered `seq` 0..255
(wrapping) per edge node; NDEATH (the MQTT will, with the same bdSeq) ends the session. A host
that sees a gap in `seq`, or an alias it cannot resolve, asks the node to publish its births
again: NCMD with the boolean metric "Node Control/Rebirth" = true.

Topics: spBv1.0/<group_id>/<message_type>/<edge_node_id>[/<device_id>].
"""

from __future__ import annotations

import fnmatch
import time
from dataclasses import dataclass, field
from typing import Any

from collector.config import SparkplugMetricConfig, SparkplugSourceConfig
from collector.sources.base import Reject, SourceSample
from collector.sources.mqtt.consumer import MqttConsumer, Out
from collector.sources.mqtt.link import Incoming
from collector.sources.sparkplug.payload import (
    DataType,
    Payload,
    PayloadError,
    metric_number,
    parse_payload,
)
from collector.timestamps import BadTimestamp, ReceiveClock, from_unix_ms

NAMESPACE = "spBv1.0"
REBIRTH_METRIC = "Node Control/Rebirth"
_DATA = {"NDATA", "DDATA"}
_SEQUENCED = {"NBIRTH", "DBIRTH", "NDATA", "DDATA", "DDEATH"}


def build(cfg: SparkplugSourceConfig, name: str) -> SparkplugSource:
    return SparkplugSource(cfg, name)


@dataclass
class EdgeNode:
    """What a host knows about one edge node between its NBIRTH and NDEATH."""

    online: bool = False
    bd_seq: int | None = None
    last_seq: int | None = None
    # alias -> (device id, or "" for node metrics; metric name; datatype)
    aliases: dict[int, tuple[str, str, int | None]] = field(default_factory=dict)
    datatypes: dict[tuple[str, str], int | None] = field(default_factory=dict)
    last_rebirth_request: float = float("-inf")


@dataclass(frozen=True, slots=True)
class _Target:
    characteristic: str
    scale: float
    offset: float


class SparkplugSource(MqttConsumer):
    def __init__(self, cfg: SparkplugSourceConfig, name: str) -> None:
        super().__init__(cfg, name)
        self.spcfg = cfg
        self.nodes: dict[tuple[str, str], EdgeNode] = {}
        self._targets: dict[tuple[str, str, str, str], _Target | None] = {}
        self._rebirths: list[tuple[str, str]] = []
        self.clock = ReceiveClock()
        self.counts.update(
            {"seq_gaps": 0, "rebirth_requests": 0, "births": 0, "deaths": 0, "unmapped_metrics": 0}
        )

    def filters(self) -> list[str]:
        return [f"{NAMESPACE}/{self.spcfg.group_id}/#"]

    # ------------------------------------------------------------------ messages

    def handle(self, msg: Incoming, out: Out, reject: Reject) -> None:
        parts = msg.topic.split("/")
        if len(parts) < 4 or parts[0] != NAMESPACE:
            return
        group, kind, node_id = parts[1], parts[2], parts[3]
        device = parts[4] if len(parts) > 4 else ""
        if kind not in _SEQUENCED and kind != "NDEATH":
            return  # NCMD/DCMD (ours included) and STATE are not data
        try:
            payload = parse_payload(msg.payload)
        except PayloadError as exc:
            reject(f"sparkplug-decode: {exc}", f"{msg.topic} {msg.payload[:64].hex()}")
            return
        key = (group, node_id)
        node = self.nodes.get(key)
        if kind == "NBIRTH":
            node = self.nodes[key] = EdgeNode(online=True)
            self.counts["births"] += 1
            for metric in payload.metrics:
                if metric.name == "bdSeq":
                    node.bd_seq = int(metric.long_value or metric.int_value)
        elif kind == "NDEATH":
            self.counts["deaths"] += 1
            bd = next(
                (int(m.long_value or m.int_value) for m in payload.metrics if m.name == "bdSeq"),
                None,
            )
            if node is not None and (bd is None or node.bd_seq is None or bd == node.bd_seq):
                node.online = False
            return
        elif node is None or not node.online:
            reason = f"sparkplug-no-birth: {kind} from {group}/{node_id} before its NBIRTH"
            reject(reason, msg.topic)
            self._request_rebirth(group, node_id, node)
            return
        if not payload.HasField("seq"):
            reject(f"sparkplug-decode: {kind} without seq", f"{msg.topic} {msg.payload[:64].hex()}")
            return
        self._check_seq(group, node_id, node, kind, int(payload.seq))
        if kind in ("NBIRTH", "DBIRTH"):
            self._register(node, device, payload)
            if self.spcfg.birth_values == "ignore":
                return
        elif kind == "DDEATH":
            return
        self._emit_metrics(group, node_id, device, node, payload, msg.received, out, reject)

    def _check_seq(self, group: str, node_id: str, node: EdgeNode, kind: str, seq: int) -> None:
        if kind == "NBIRTH":
            node.last_seq = seq
            return
        expected = None if node.last_seq is None else (node.last_seq + 1) % 256
        node.last_seq = seq
        if expected is not None and seq != expected:
            self.counts["seq_gaps"] += 1
            self.log.warning(
                "Sparkplug sequence gap: messages lost, requesting a rebirth",
                extra={
                    "fields": {
                        "group": group,
                        "edge_node": node_id,
                        "expected": expected,
                        "got": seq,
                    }
                },
            )
            self._request_rebirth(group, node_id, node)

    def _register(self, node: EdgeNode, device: str, payload: Any) -> None:
        for metric in payload.metrics:
            datatype = metric.datatype if metric.HasField("datatype") else None
            if metric.name:
                node.datatypes[(device, metric.name)] = datatype
                if metric.HasField("alias"):
                    node.aliases[int(metric.alias)] = (device, metric.name, datatype)

    def _emit_metrics(
        self,
        group: str,
        node_id: str,
        device: str,
        node: EdgeNode,
        payload: Any,
        received: float,
        out: Out,
        reject: Reject,
    ) -> None:
        mode = self.spcfg.timestamp
        payload_ts = payload.timestamp if payload.HasField("timestamp") else None
        for metric in payload.metrics:
            if metric.name:
                name = metric.name
                datatype = (
                    metric.datatype
                    if metric.HasField("datatype")
                    else node.datatypes.get((device, name))
                )
            elif metric.HasField("alias") and int(metric.alias) in node.aliases:
                _, name, datatype = node.aliases[int(metric.alias)]
            else:
                reject(
                    f"sparkplug-unknown-alias: alias {metric.alias} of {group}/{node_id} "
                    "not in its birth certificates",
                    f"{group}/{node_id}/{device}",
                )
                self._request_rebirth(group, node_id, node)
                continue
            if name == "bdSeq" or name.startswith("Node Control/"):
                continue
            target = self._target(group, node_id, device, name)
            if target is None:
                self.counts["unmapped_metrics"] += 1
                continue
            value = metric_number(metric, datatype)
            if isinstance(value, str):
                reject(f"wrong-type: metric {name!r}: {value}", f"{group}/{node_id}/{device}")
                continue
            if mode == "metric" and metric.HasField("timestamp"):
                ms: int | None = int(metric.timestamp)
            elif mode != "receive":
                ms = payload_ts
            else:
                ms = None
            try:
                ts = from_unix_ms(ms) if ms is not None else self.clock.format(received)
            except BadTimestamp as exc:
                reject(f"bad-timestamp: metric {name!r}: {exc}", f"{group}/{node_id}/{device}")
                continue
            out(SourceSample(target.characteristic, ts, value * target.scale + target.offset))

    def _target(self, group: str, node_id: str, device: str, metric: str) -> _Target | None:
        key = (group, node_id, device, metric)
        try:
            return self._targets[key]
        except KeyError:
            pass
        found: _Target | None = None
        for entry in self.spcfg.metrics:
            if _matches(entry, node_id, device, metric):
                characteristic = (
                    entry.characteristic.replace("{group}", group)
                    .replace("{node}", node_id)
                    .replace("{device}", device)
                    .replace("{metric}", metric.replace("/", "."))
                )
                found = _Target(characteristic, entry.scale, entry.offset)
                break
        if len(self._targets) > 100_000:
            self._targets.clear()
        self._targets[key] = found
        return found

    # ------------------------------------------------------------------ rebirth

    def _request_rebirth(self, group: str, node_id: str, node: EdgeNode | None) -> None:
        if self.spcfg.rebirth == "off":
            return
        if node is None:
            node = self.nodes[(group, node_id)] = EdgeNode()
        now = time.monotonic()
        if now - node.last_rebirth_request < self.spcfg.rebirth_min_interval_seconds:
            return
        node.last_rebirth_request = now
        self._rebirths.append((group, node_id))

    def on_batch_stored(self) -> None:
        """Publishes the rebirth requests decided while decoding the batch."""
        link = self.link
        while self._rebirths and link is not None:
            group, node_id = self._rebirths.pop(0)
            payload = Payload(timestamp=int(time.time() * 1000))
            metric = payload.metrics.add()
            metric.name = REBIRTH_METRIC
            metric.datatype = DataType.BOOLEAN
            metric.boolean_value = True
            link.publish(f"{NAMESPACE}/{group}/NCMD/{node_id}", payload.SerializeToString(), qos=0)
            self.counts["rebirth_requests"] += 1
            self.log.info(
                "Sparkplug rebirth requested",
                extra={"fields": {"group": group, "edge_node": node_id}},
            )


def _matches(entry: SparkplugMetricConfig, node_id: str, device: str, metric: str) -> bool:
    if entry.device == "" and device != "":
        return False
    return (
        fnmatch.fnmatchcase(metric, entry.metric)
        and fnmatch.fnmatchcase(node_id, entry.edge_node)
        and (entry.device in ("", "*") or fnmatch.fnmatchcase(device, entry.device))
    )
