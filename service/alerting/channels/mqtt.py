"""MQTT publish for andon lights and the MES: one event per alarm change on a topic per
line/characteristic, and a retained state topic with the characteristic's current alarm state,
so that a light that reconnects learns the state at once.

paho 2 runs its network loop in its own thread; `send` waits for the broker's PUBACK (QoS ≥ 1)
in a worker thread with the channel's timeout, so a message counts as delivered only when the
broker has it.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
import uuid
from datetime import tzinfo
from typing import Any

import anyio

from service.alerting.channels.base import DeliveryResult, redact
from service.alerting.message import AlarmMessage
from service.alerting.templates import render

_STATE_BY_EVENT = {
    "alarm.opened": "alarm",
    "alarm.hit": "alarm",
    "alarm.acknowledged": "acknowledged",
    "alarm.closed": "ok",
}


class _Fields(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "_"


def topic_for(template: str, message: AlarmMessage) -> str:
    """Fill a topic template; MQTT wildcards and separators in names become '_'."""

    def clean(value: str | None) -> str:
        text = value or "_"
        for ch in "+#/":
            text = text.replace(ch, "_")
        return text

    fields = _Fields(
        site=clean(message.site),
        line=clean(message.line),
        station=clean(message.station),
        characteristic=clean(message.characteristic),
        rule=clean(message.rule),
    )
    return template.format_map(fields)


class MqttChannel:
    kind = "mqtt"

    def __init__(
        self,
        name: str,
        *,
        host: str,
        port: int = 1883,
        topic: str,
        state_topic: str | None,
        qos: int = 1,
        client_id: str | None = None,
        username: str | None = None,
        password: str | None = None,
        tls: bool = False,
        ca_file: str | None = None,
        language: str = "en",
        tz: tzinfo | str = "UTC",
        timeout_s: float = 5.0,
    ) -> None:
        self.name = name
        self.language = language
        self._host, self._port = host, port
        self._topic, self._state_topic = topic, state_topic or None
        self._qos = qos
        self._client_id = client_id or f"linewatch-alert-{uuid.uuid4().hex[:8]}"
        self._username, self._password = username, password
        self._tls, self._ca_file = tls, ca_file
        self._tz = tz
        self._timeout = timeout_s
        self._client: Any = None
        self._lock = threading.Lock()

    def event_payload(self, message: AlarmMessage) -> dict[str, Any]:
        r = render(message, self.language, self._tz)
        return {**message.to_dict(), "delivery_id": message.delivery_id, "title": r.title}

    def state_payload(self, message: AlarmMessage) -> dict[str, Any] | None:
        state = message.state or _STATE_BY_EVENT.get(message.event)
        if state is None or message.kind not in ("alarm", "test"):
            return None
        return {
            "state": state,
            "characteristic": message.characteristic,
            "alarm_id": message.alarm_id,
            "rule": message.rule,
            "severity": message.severity,
            "ts": message.to_dict()["ts"],
        }

    def _connect(self) -> Any:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self._client_id,
            protocol=mqtt.MQTTv5,
        )
        if self._username:
            client.username_pw_set(self._username, self._password)
        if self._tls:
            client.tls_set_context(ssl.create_default_context(cafile=self._ca_file))
        connected = threading.Event()

        def on_connect(client: Any, userdata: Any, flags: Any, rc: Any, props: Any = None) -> None:
            if not rc.is_failure:
                connected.set()

        client.on_connect = on_connect
        client.connect(self._host, self._port, keepalive=30)
        client.loop_start()
        if not connected.wait(self._timeout):
            client.loop_stop()
            client.disconnect()
            raise TimeoutError(f"no CONNACK from {self._host}:{self._port} in {self._timeout} s")
        return client

    def _publish_blocking(self, items: list[tuple[str, bytes, bool]]) -> None:
        with self._lock:
            if self._client is None or not self._client.is_connected():
                self._drop()
                self._client = self._connect()
            deadline = time.monotonic() + self._timeout
            infos = [
                self._client.publish(topic, payload, qos=self._qos, retain=retain)
                for topic, payload, retain in items
            ]
            for info in infos:
                remaining = max(0.0, deadline - time.monotonic())
                info.wait_for_publish(timeout=remaining)
                if not info.is_published():
                    self._drop()
                    raise TimeoutError("broker did not acknowledge the publish in time")

    def _drop(self) -> None:
        if self._client is not None:
            try:
                self._client.loop_stop()
                self._client.disconnect()
            except Exception:  # already gone
                pass
            self._client = None

    async def send(self, message: AlarmMessage) -> DeliveryResult:
        started = time.perf_counter()
        items = [(topic_for(self._topic, message), _bytes(self.event_payload(message)), False)]
        state = self.state_payload(message)
        if self._state_topic and state is not None:
            items.append((topic_for(self._state_topic, message), _bytes(state), True))
        try:
            await anyio.to_thread.run_sync(self._publish_blocking, items)
        except (OSError, TimeoutError, RuntimeError, ValueError) as exc:
            detail = redact(f"{type(exc).__name__}: {exc}", self._password)
            return DeliveryResult.failure(detail, retryable=True, started=started)
        return DeliveryResult.success(None, f"published {len(items)}", started)

    async def aclose(self) -> None:
        await anyio.to_thread.run_sync(self._drop)


def _bytes(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
