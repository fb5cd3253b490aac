"""The `[[mqtt]]` source: JSON payloads on MQTT topics (see `consumer` for the delivery rules)."""

from __future__ import annotations

from paho.mqtt.client import topic_matches_sub

from collector.config import MqttSourceConfig
from collector.sources.base import Reject
from collector.sources.mqtt.consumer import MqttConsumer, Out
from collector.sources.mqtt.link import Incoming
from collector.sources.mqtt.mapping import TopicMapping


def build(cfg: MqttSourceConfig, name: str) -> MqttSource:
    return MqttSource(cfg, name)


class MqttSource(MqttConsumer):
    def __init__(self, cfg: MqttSourceConfig, name: str) -> None:
        super().__init__(cfg, name)
        self.mappings = [TopicMapping(t) for t in cfg.topics]
        self._by_topic: dict[str, TopicMapping | None] = {}

    def filters(self) -> list[str]:
        return list(dict.fromkeys(m.filter for m in self.mappings))

    def mapping_for(self, topic: str) -> TopicMapping | None:
        """The first `[[mqtt.topics]]` entry whose filter matches (cached per topic)."""
        try:
            return self._by_topic[topic]
        except KeyError:
            pass
        if len(self._by_topic) > 100_000:
            self._by_topic.clear()
        found = next((m for m in self.mappings if topic_matches_sub(m.filter, topic)), None)
        self._by_topic[topic] = found
        return found

    def handle(self, msg: Incoming, out: Out, reject: Reject) -> None:
        mapping = self.mapping_for(msg.topic)
        if mapping is None:
            reject(f"no-mapping: no [[mqtt.topics]] entry matches {msg.topic!r}", msg.topic)
            return
        mapping.decode(msg.topic, msg.payload, msg.received, out, reject)
