"""From a JSON MQTT message to samples, as one `[[mqtt.topics]]` entry says.

Compiled once per entry (field paths split, characteristic template parsed) because this runs
for every message: the collector must keep up with a bare MQTT client on the same stream.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

from collector.config import TopicMappingConfig
from collector.sources.base import Reject, SourceSample
from collector.timestamps import BadTimestamp, ReceiveClock, parse_timestamp

_MISSING = object()
_json_decode = json.JSONDecoder().decode  # on str: json.loads(bytes) sniffs the encoding first
_SAMPLE_CHARS = 200
Path = tuple[str | int, ...]


def compile_path(path: str) -> Path:
    """ "a.b[0].c" -> ("a", "b", 0, "c"); "$" -> () (the document itself)."""
    if path in ("$", ""):
        return ()
    parts: list[str | int] = []
    for piece in path.split("."):
        m = re.fullmatch(r"([^\[\]]*)((?:\[\d+\])*)", piece)
        if m is None:
            raise ValueError(f"bad field path {path!r}")
        if m.group(1):
            parts.append(m.group(1))
        parts.extend(int(i) for i in re.findall(r"\[(\d+)\]", m.group(2)))
    return tuple(parts)


def lookup(doc: Any, path: Path) -> Any:
    for key in path:
        try:
            doc = doc[key]
        except (KeyError, IndexError, TypeError):
            return _MISSING
    return doc


def _lookup2(item: Any, doc: Any, path: Path) -> Any:
    """In the reading first, then in the enclosing document (shared ts or lot of an array)."""
    found = lookup(item, path)
    if found is _MISSING and doc is not item:
        found = lookup(doc, path)
    return found


def payload_sample(payload: bytes | bytearray) -> str:
    return payload[:_SAMPLE_CHARS].decode("utf-8", errors="replace")


def compile_template(template: str) -> Callable[[list[str], str, str], str]:
    """Characteristic template -> f(levels, topic, field) -> characteristic."""
    pieces: list[tuple[str, str | int]] = []
    pos = 0
    for m in re.finditer(r"\{([^{}]*)\}", template):
        if m.start() > pos:
            pieces.append(("lit", template[pos : m.start()]))
        name = m.group(1)
        pieces.append(("name", name) if name in ("topic", "field") else ("level", int(name)))
        pos = m.end()
    if pos < len(template):
        pieces.append(("lit", template[pos:]))

    def render(levels: list[str], topic: str, field: str) -> str:
        out = []
        for kind, val in pieces:
            if kind == "lit":
                out.append(val)
            elif kind == "level":
                out.append(levels[val])  # type: ignore[index]
            else:
                out.append(topic if val == "topic" else field)
        return "".join(out)  # type: ignore[arg-type]

    return render


class TopicMapping:
    def __init__(self, cfg: TopicMappingConfig) -> None:
        self.cfg = cfg
        self.filter = cfg.topic
        self.value_path = compile_path(cfg.value)
        self.readings_path = compile_path(cfg.readings) if cfg.readings is not None else None
        self.ts_path = compile_path(cfg.timestamp_field)
        self.field_path = (
            compile_path(cfg.characteristic_field) if cfg.characteristic_field else None
        )
        self.optional = [
            (name, compile_path(p))
            for name, p in (("subgroup", cfg.subgroup), ("lot", cfg.lot), ("serial", cfg.serial))
            if p is not None
        ]
        self.render = compile_template(cfg.characteristic)
        self.scale, self.offset = cfg.scale, cfg.offset
        self.identity = cfg.scale == 1.0 and cfg.offset == 0.0
        self.receive_ts = cfg.timestamp == "receive"
        self.ts_format = cfg.timestamp_format
        self.clock = ReceiveClock()
        self._last_ts: tuple[Any, str] = (None, "")  # (raw, parsed): arrays often share one
        self._static: dict[
            str, str
        ] = {}  # topic -> characteristic when it depends on the topic only

    def characteristic(self, topic: str, field: str) -> str:
        if self.field_path is None:
            found = self._static.get(topic)
            if found is None:
                if len(self._static) > 100_000:
                    self._static.clear()
                found = self._static[topic] = self.render(topic.split("/"), topic, "")
            return found
        return self.render(topic.split("/"), topic, field)

    def decode(
        self,
        topic: str,
        payload: bytes | bytearray,
        received: float,
        out: Callable[[SourceSample], None],
        reject: Reject,
    ) -> None:
        """Appends the message's samples to `out`; reports each bad reading to `reject`."""
        try:
            doc = _json_decode(payload.decode())
        except (ValueError, UnicodeDecodeError) as exc:
            reject(f"malformed-json: {exc}", payload_sample(payload))
            return
        if isinstance(doc, list):
            items: Any = doc
        elif self.readings_path is not None:
            items = lookup(doc, self.readings_path)
            if not isinstance(items, list):
                what = "missing" if items is _MISSING else f"not an array ({type(items).__name__})"
                reject(
                    f"missing-field: readings {self.cfg.readings!r} {what}", payload_sample(payload)
                )
                return
        else:
            items = (doc,)
        for item in items:
            sample = self._one(topic, doc, item, received)
            if isinstance(sample, str):
                reject(sample, payload_sample(payload))
            else:
                out(sample)

    def _one(self, topic: str, doc: Any, item: Any, received: float) -> SourceSample | str:
        raw = lookup(item, self.value_path)
        if raw is _MISSING:
            return f"missing-field: value {self.cfg.value!r}"
        kind = type(raw)
        if kind is not float and kind is not int:
            return f"wrong-type: value {self.cfg.value!r} is {kind.__name__}, not a number"
        if not math.isfinite(raw):
            return f"non-finite: value {raw!r}"
        value = float(raw) if self.identity else raw * self.scale + self.offset
        if self.receive_ts:
            ts = self.clock.format(received)
        else:
            raw_ts = _lookup2(item, doc, self.ts_path)
            if raw_ts is _MISSING:
                return f"missing-field: timestamp {self.cfg.timestamp_field!r}"
            last_raw, last_ts = self._last_ts
            if raw_ts == last_raw and type(raw_ts) is type(last_raw):
                ts = last_ts
            else:
                try:
                    ts = parse_timestamp(raw_ts, self.ts_format)
                except BadTimestamp as exc:
                    return f"bad-timestamp: {exc}"
                self._last_ts = (raw_ts, ts)
        field = ""
        if self.field_path is not None:
            found = _lookup2(item, doc, self.field_path)
            if found is _MISSING or found is None or isinstance(found, dict | list):
                return f"missing-field: characteristic {self.cfg.characteristic_field!r}"
            field = str(found)
        try:
            characteristic = self.characteristic(topic, field)
        except IndexError:
            return f"no-mapping: topic {topic!r} has too few levels for {self.cfg.characteristic!r}"
        extra: dict[str, str | None] = {"subgroup": None, "lot": None, "serial": None}
        for name, path in self.optional:
            found = _lookup2(item, doc, path)
            if found is not _MISSING and found is not None:
                extra[name] = str(found)
        return SourceSample(
            characteristic,
            ts,
            value,
            extra["subgroup"],
            extra["lot"],
            extra["serial"],
            "good",
            self.cfg.counter,
        )
