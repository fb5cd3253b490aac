"""JSON payloads to samples: field paths, arrays of readings, timestamps, templates, bad input."""

from __future__ import annotations

import json
from typing import Any

import pytest

from collector.config import TopicMappingConfig
from collector.sources.base import SourceSample
from collector.sources.mqtt.mapping import TopicMapping, compile_path, lookup
from collector.timestamps import BadTimestamp, parse_timestamp

RECEIVED = 1_795_000_000.25  # 2026-11-18T11:06:40.250Z


def decode(
    payload: Any, msg_topic: str = "plant/line1/op20/bore", **cfg: Any
) -> tuple[list[SourceSample], list[tuple[str, str]]]:
    cfg.setdefault("topic", "plant/+/+/bore")
    cfg.setdefault("characteristic", "{1}.{2}.bore")
    mapping = TopicMapping(TopicMappingConfig(**cfg))
    out: list[SourceSample] = []
    rejects: list[tuple[str, str]] = []
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    mapping.decode(msg_topic, raw, RECEIVED, out.append, lambda r, s: rejects.append((r, s)))
    return out, rejects


def test_single_reading_with_optional_fields() -> None:
    out, rejects = decode(
        {"ts": "2026-11-26T10:00:00.123Z", "value": 74.012, "lot": "L7", "sn": 12, "sg": "S1"},
        lot="lot",
        serial="sn",
        subgroup="sg",
    )
    assert rejects == []
    assert out == [
        SourceSample("line1.op20.bore", "2026-11-26T10:00:00.123Z", 74.012, "S1", "L7", "12")
    ]


def test_nested_value_path_scale_offset_and_receive_time() -> None:
    out, _ = decode(
        {"data": {"ch": [{"raw": 1000}, {"raw": 2000}]}},
        value="data.ch[1].raw",
        scale=0.001,
        offset=70,
        timestamp="receive",
    )
    assert out == [SourceSample("line1.op20.bore", "2026-11-18T11:06:40.250Z", 72.0)]


def test_bare_number_payload() -> None:
    out, _ = decode(b"74.5", value="$", timestamp="receive")
    assert [s.value for s in out] == [74.5]


def test_array_payload_and_readings_path_with_shared_fields() -> None:
    arr = [{"ts": 1795000000000 + i, "value": i} for i in range(3)]
    out, _ = decode(arr)
    assert [s.value for s in out] == [0, 1, 2]
    assert out[1].ts == "2026-11-18T11:06:40.001000Z"
    doc = {
        "ts": "2026-11-26T10:00:00Z",
        "lot": "L1",
        "readings": [{"name": "bore", "v": 1.5}, {"name": "depth", "v": 2.5, "lot": "L2"}],
    }
    out, rejects = decode(
        doc,
        "plant/line1/gauges",
        topic="plant/+/gauges",
        characteristic="{1}.{field}",
        characteristic_field="name",
        readings="readings",
        value="v",
        lot="lot",
    )
    assert rejects == []
    assert [(s.characteristic, s.value, s.lot, s.ts) for s in out] == [
        ("line1.bore", 1.5, "L1", "2026-11-26T10:00:00Z"),
        ("line1.depth", 2.5, "L2", "2026-11-26T10:00:00Z"),
    ]


def test_template_last_level_and_whole_topic() -> None:
    mapping = TopicMapping(TopicMappingConfig(topic="a/#", characteristic="{-1}:{topic}"))
    assert mapping.characteristic("a/b/c", "") == "c:a/b/c"


@pytest.mark.parametrize(
    ("payload", "kind"),
    [
        (b"{not json", "malformed-json"),
        (b"\xff\xfe", "malformed-json"),
        ({"ts": "2026-11-26T10:00:00Z"}, "missing-field"),
        ({"ts": "2026-11-26T10:00:00Z", "value": "74.1"}, "wrong-type"),
        ({"ts": "2026-11-26T10:00:00Z", "value": True}, "wrong-type"),
        ({"ts": "2026-11-26T10:00:00Z", "value": None}, "wrong-type"),
        ({"value": 1.0}, "missing-field"),
        ({"ts": "2026-11-26T10:00:00", "value": 1.0}, "bad-timestamp"),
        ({"ts": "yesterday", "value": 1.0}, "bad-timestamp"),
        (b'{"ts": "2026-11-26T10:00:00Z", "value": NaN}', "non-finite"),
    ],
)
def test_bad_input_is_rejected_with_its_kind_and_a_sample(payload: Any, kind: str) -> None:
    out, rejects = decode(payload)
    assert out == []
    assert len(rejects) == 1
    reason, sample = rejects[0]
    assert reason.startswith(kind + ":"), reason
    assert sample  # a sample of the raw input is kept for the log


def test_one_bad_reading_does_not_block_the_others() -> None:
    arr = [
        {"ts": "2026-11-26T10:00:00Z", "value": 1},
        {"ts": "2026-11-26T10:00:01Z", "value": "x"},
        {"ts": "2026-11-26T10:00:02Z", "value": 3},
    ]
    out, rejects = decode(arr)
    assert [s.value for s in out] == [1, 3]
    assert [r[0].split(":")[0] for r in rejects] == ["wrong-type"]


def test_readings_path_must_be_an_array() -> None:
    out, rejects = decode({"readings": 5}, readings="readings")
    assert out == [] and rejects[0][0].startswith("missing-field: readings")


def test_field_paths() -> None:
    assert compile_path("a.b[2].c") == ("a", "b", 2, "c")
    assert compile_path("$") == ()
    assert compile_path("m[0][1]") == ("m", 0, 1)
    assert lookup({"m": [[0, 7]]}, compile_path("m[0][1]")) == 7


@pytest.mark.parametrize(
    ("raw", "fmt", "expected"),
    [
        ("2026-11-26T10:00:00.123+01:00", "auto", "2026-11-26T10:00:00.123+01:00"),
        (1795000000, "auto", "2026-11-18T11:06:40.000000Z"),
        (1795000000123, "auto", "2026-11-18T11:06:40.123000Z"),
        (1795000000123456, "auto", "2026-11-18T11:06:40.123456Z"),
        (1795000000.5, "unix-s", "2026-11-18T11:06:40.500000Z"),
        (1795000000123, "unix-ms", "2026-11-18T11:06:40.123000Z"),
    ],
)
def test_timestamp_formats(raw: Any, fmt: str, expected: str) -> None:
    assert parse_timestamp(raw, fmt) == expected


@pytest.mark.parametrize(
    ("raw", "fmt"), [("2026-11-26T10:00:00Z", "unix-ms"), (17, "iso8601"), (None, "auto")]
)
def test_timestamp_format_mismatch(raw: Any, fmt: str) -> None:
    with pytest.raises(BadTimestamp):
        parse_timestamp(raw, fmt)
