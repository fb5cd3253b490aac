"""MQTT with JSON payloads: the broker connection (`link`), the shared consumer loop, the source."""
