"""The simulated line as plain JSON over MQTT: one topic per characteristic.

Topic `{prefix}/{line}/{station}/{name}` (e.g. plant/line1/op10/bore), payload
`{"ts": "2026-11-26T10:00:00.123Z", "value": 74.012, "lot": "...", "serial": "..."}`; `subgroup`
is added for subgrouped characteristics and `quality` when it is not "good". QoS 1 by default,
with paho's in-flight window bounded (ECOSYSTEM: paho refuses past 65,535 unacknowledged).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from collector.simulator.line import SimSample

log = logging.getLogger(__name__)


def iso_ms(ts: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and a Z, as the ingest contract writes timestamps."""
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def topic_for(characteristic: str, prefix: str = "plant") -> str:
    return f"{prefix}/" + characteristic.replace(".", "/")


def payload_for(sample: SimSample) -> dict[str, Any]:
    payload: dict[str, Any] = {"ts": iso_ms(sample.ts), "value": sample.value}
    if sample.lot is not None:
        payload["lot"] = sample.lot
    if sample.serial is not None:
        payload["serial"] = sample.serial
    if sample.subgroup is not None:
        payload["subgroup"] = sample.subgroup
    if sample.quality != "good":
        payload["quality"] = sample.quality
    return payload


class MqttJsonPublisher:
    """Publishes samples as JSON messages; paho's network loop runs in its own thread."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 1883,
        *,
        prefix: str = "plant",
        qos: int = 1,
        client_id: str | None = None,
        max_inflight: int = 1000,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.host, self.port, self.prefix, self.qos = host, port, prefix, qos
        # A unique id by default: two simulators on one broker must not take over each other.
        self._client_id = client_id or f"linewatch-sim-json-{uuid.uuid4().hex[:8]}"
        self._max_inflight = max_inflight
        self._username, self._password = username, password
        self._client: Any = None
        self._last: Any = None
        self.published = 0

    async def start(self) -> None:
        import paho.mqtt.client as mqtt

        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self._client_id)
        client.max_inflight_messages_set(self._max_inflight)
        if self._username is not None:
            client.username_pw_set(self._username, self._password)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.connect_async(self.host, self.port, keepalive=30)
        client.loop_start()
        self._client = client

    async def publish(self, samples: Iterable[SimSample]) -> None:
        client = self._client
        if client is None:
            raise RuntimeError("publisher not started")
        for s in samples:
            info = client.publish(
                topic_for(s.characteristic, self.prefix),
                json.dumps(payload_for(s), separators=(",", ":")),
                qos=self.qos,
            )
            if info.rc == 0:
                self.published += 1
                self._last = info
            else:
                log.debug("mqtt publish refused", extra={"fields": {"rc": info.rc}})

    async def stop(self, flush_timeout: float = 2.0) -> None:
        """Waits (bounded) for the last QoS 1 message to be acknowledged, then disconnects."""
        if self._client is not None:
            client, self._client = self._client, None
            if self._last is not None and self.qos > 0 and client.is_connected():
                await asyncio.to_thread(_wait_quietly, self._last, flush_timeout)
            client.disconnect()
            client.loop_stop()


def _wait_quietly(info: Any, timeout: float) -> None:
    with contextlib.suppress(RuntimeError, ValueError):
        info.wait_for_publish(timeout)
