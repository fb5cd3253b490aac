"""Piece counters: the increment rules, their persistence in the buffer, config and encoding."""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from collector.buffer import AsyncBuffer, DiskBuffer
from collector.config import ConfigError, CounterConfig, SinkConfig, parse_config
from collector.counters import BadCounterValue, CounterState, counter_value, increment
from collector.metrics import CollectorMetrics
from collector.sink import HttpSink, encode_counter_events
from collector.sources.base import SourceSample

REJECTS = CounterConfig(
    kind="defects", line="L1", station="L1.op20", product="P-100", defect_code="DIM-001"
)
GOOD = CounterConfig(kind="good-units", line="L1", product="P-100")


def _quantities(values: list[int], start: int | None = None) -> list[int]:
    state = CounterState({} if start is None else {"c": start})
    return [state.step("c", v) for v in values]


# ---------------------------------------------------------------- the pure rules


def test_first_value_is_a_baseline_then_rises_count() -> None:
    assert _quantities([5, 8, 8, 10]) == [0, 3, 0, 2]


def test_a_drop_is_a_reset_and_the_new_value_counts_since_it() -> None:
    assert _quantities([0, 3, 3, 7, 2, 2, 5]) == [0, 3, 0, 4, 2, 0, 3]
    assert increment(7, 0) == 0  # reset to zero: nothing counted yet
    assert increment(None, 42) == 0


def test_restart_from_persisted_state_continues_where_it_left() -> None:
    before = CounterState()
    first = [before.step("c", v) for v in (0, 3, 3)]
    after = CounterState(dict(before.last))  # what the buffer reloads
    assert first + [after.step("c", v) for v in (7, 2)] == [0, 3, 0, 4, 2]


def test_counters_are_independent_by_name() -> None:
    state = CounterState()
    assert [state.step("a", 1), state.step("b", 10), state.step("a", 4)] == [0, 0, 3]


@pytest.mark.parametrize("bad", [-1.0, 2.5, float("nan"), float("inf")])
def test_counter_values_must_be_whole_and_not_negative(bad: float) -> None:
    with pytest.raises(BadCounterValue):
        counter_value(bad)
    assert counter_value(7.0) == 7


# ---------------------------------------------------------------- config


def _mqtt(counter: str) -> str:
    return f"""
[[mqtt]]
  [[mqtt.topics]]
  topic = "plant/l1/rejects"
  characteristic = "l1.rejects"
  counter = {counter}
"""


def test_counter_config_is_strict() -> None:
    cfg = parse_config(
        _mqtt('{ kind = "defects", line = "L1", product = "P", defect_code = "D-1" }')
    )
    counter = cfg.mqtt[0].topics[0].counter
    assert counter is not None and counter.kind == "defects" and counter.disposition is None
    with pytest.raises(ConfigError, match="defect_code"):
        parse_config(_mqtt('{ kind = "defects", line = "L1", product = "P" }'))
    with pytest.raises(ConfigError, match="takes no station"):
        parse_config(_mqtt('{ kind = "good-units", line = "L1", product = "P", station = "s" }'))
    with pytest.raises(ConfigError, match=r"unknown key.*colour"):
        parse_config(_mqtt('{ kind = "good-units", line = "L1", product = "P", colour = "x" }'))
    with pytest.raises(ConfigError, match="kind"):
        parse_config(_mqtt('{ kind = "scrap", line = "L1", product = "P" }'))


def test_counter_urls_derive_from_the_measurement_url() -> None:
    sink = SinkConfig(url="https://lw.example:8443/api/v1/measurements")
    assert sink.counter_url("defects") == "https://lw.example:8443/api/v1/defects"
    assert sink.counter_url("good-units") == "https://lw.example:8443/api/v1/good-units"
    own = SinkConfig(defects_url="http://other/d")
    assert own.counter_url("defects") == "http://other/d"


# ---------------------------------------------------------------- the buffer


def _sample(value: float, spec: CounterConfig = REJECTS, name: str = "l1.rejects") -> SourceSample:
    return SourceSample(name, f"2026-11-26T10:00:{int(value) % 60:02d}Z", value, counter=spec)


def test_buffer_turns_counter_readings_into_events_and_survives_a_restart(
    tmp_path: Path,
) -> None:
    path = tmp_path / "b.db"
    buf = DiskBuffer(path)
    measurement = SourceSample("l1.bore", "2026-11-26T10:00:00Z", 12.5)
    result = buf.append([_sample(0), measurement, _sample(3), _sample(3)])
    assert (result.stored, result.counter_events) == (1, 1)
    assert buf.pending == 1 and buf.counter_pending("defects") == 1
    events = buf.peek_counter_events("defects", 10)
    assert [e.quantity for e in events] == [3]
    assert events[0].disposition == "scrap" and events[0].station == "L1.op20"
    reading_seq = buf.peek(10)[0].seq
    assert events[0].seq > reading_seq  # one numbering for readings and events
    buf.close()

    buf = DiskBuffer(path)  # a restart: last value 3 and the waiting event are still there
    assert buf.counter_last() == {"l1.rejects": 3}
    assert buf.counter_pending() == 1
    buf.append([_sample(7), _sample(2)])
    got = buf.peek_counter_events("defects", 10)
    assert [e.quantity for e in got] == [3, 4, 2]
    assert len({e.seq for e in got} | {reading_seq}) == 4
    assert buf.peek_counter_events("good-units", 10) == []
    buf.ack_counter_events("defects", got[0].seq, got[-1].seq, [(got[1].seq, "unknown line")])
    assert buf.counter_pending() == 0 and buf.pending == 1
    dead = buf.counter_dead_letters()
    assert [(e.quantity, reason) for e, reason in dead] == [(4, "unknown line")]
    assert buf.stats().dead_letters == 1
    buf.close()


def test_bad_quality_counter_readings_do_not_move_the_baseline(tmp_path: Path) -> None:
    buf = DiskBuffer(tmp_path / "b.db")
    bad = SourceSample("l1.rejects", "2026-11-26T10:00:01Z", 0.0, quality="bad", counter=REJECTS)
    buf.append([_sample(5), bad, _sample(6)])
    assert [e.quantity for e in buf.peek_counter_events("defects", 10)] == [1]
    buf.close()


def test_a_failed_transaction_leaves_the_counter_state_untouched(tmp_path: Path) -> None:
    buf = DiskBuffer(tmp_path / "b.db")
    buf.append([_sample(1)])
    buf._db.execute(
        "CREATE TRIGGER boom BEFORE INSERT ON counter_events BEGIN SELECT RAISE(ABORT, 'x'); END"
    )
    with pytest.raises(Exception, match="x"):
        buf.append([_sample(4)])
    assert buf.counter_last() == {"l1.rejects": 1}
    buf._db.execute("DROP TRIGGER boom")
    buf.append([_sample(4)])  # the rise is counted once the write succeeds
    assert [e.quantity for e in buf.peek_counter_events("defects", 10)] == [3]
    buf.close()


# ---------------------------------------------------------------- the sink


def test_encoding_follows_the_service_schemas(tmp_path: Path) -> None:
    buf = DiskBuffer(tmp_path / "b.db")
    lot = SourceSample("l1.rejects", "2026-11-26T10:00:09Z", 9.0, lot="LOT-7", counter=REJECTS)
    buf.append([_sample(4), lot, _sample(1, GOOD, "l1.good"), _sample(5, GOOD, "l1.good")])
    defects = json.loads(encode_counter_events(buf.peek_counter_events("defects", 9), "edge"))
    (rec,) = defects["defects"]
    assert rec == {
        "ts": "2026-11-26T10:00:09Z",
        "line": "L1",
        "station": "L1.op20",
        "product": "P-100",
        "defect_code": "DIM-001",
        "disposition": "scrap",
        "lot": "LOT-7",
        "quantity": 5,
        "source": "edge",
        "seq": rec["seq"],
    }
    good = json.loads(encode_counter_events(buf.peek_counter_events("good-units", 9), "edge"))
    assert [(g["line"], g["product"], g["quantity"]) for g in good["good_units"]] == [
        ("L1", "P-100", 4)
    ]
    assert set(good["good_units"][0]) == {"ts", "line", "product", "quantity", "source", "seq"}
    buf.close()


class _Recorder(BaseHTTPRequestHandler):
    """A real HTTP endpoint answering the batch contract; rejects records whose quantity is 2."""

    seen: ClassVar[list[tuple[str, dict[str, Any], str | None]]] = []

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            raw = gzip.decompress(raw)
        body = json.loads(raw)
        type(self).seen.append((self.path, body, self.headers.get("Content-Encoding")))
        (records,) = body.values()
        rejected = [
            {"index": i, "error": "quantity two"}
            for i, r in enumerate(records)
            if r.get("quantity") == 2
        ]
        answer = json.dumps(
            {"accepted": len(records) - len(rejected), "duplicates": 0, "rejected": rejected}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)


def test_sink_forwards_counter_events_to_their_endpoints(tmp_path: Path) -> None:
    _Recorder.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/api/v1"

    async def main() -> None:
        buf = AsyncBuffer(DiskBuffer(tmp_path / "b.db"))
        sink_cfg = SinkConfig(url=f"{base}/measurements", token_env=None, batch_wait_ms=0)
        sink = HttpSink(sink_cfg, buf, "edge", CollectorMetrics())
        await buf.append(
            [
                SourceSample("l1.bore", "2026-11-26T10:00:00Z", 1.0),
                _sample(1),
                _sample(4),
                _sample(6),
                _sample(10, GOOD, "l1.good"),
                _sample(12, GOOD, "l1.good"),
            ]
        )
        stop = asyncio.Event()
        task = asyncio.create_task(sink.run(stop, 5.0))
        for _ in range(500):
            if buf.pending == 0 and buf.counter_pending() == 0:
                break
            await asyncio.sleep(0.01)
        stop.set()
        await task
        assert buf.pending == 0 and buf.counter_pending() == 0
        dead = buf.buffer.counter_dead_letters()
        assert [(e.kind, e.quantity, r) for e, r in dead] == [
            ("defects", 2, "quantity two"),
            ("good-units", 2, "quantity two"),
        ]
        await buf.close()

    try:
        asyncio.run(main())
    finally:
        server.shutdown()
        server.server_close()
    by_path = {path: (body, enc) for path, body, enc in _Recorder.seen}
    assert set(by_path) == {"/api/v1/measurements", "/api/v1/defects", "/api/v1/good-units"}
    assert by_path["/api/v1/measurements"][1] == "gzip"
    assert by_path["/api/v1/defects"][1] is None  # counter events go uncompressed
    assert [d["quantity"] for d in by_path["/api/v1/defects"][0]["defects"]] == [3, 2]
    assert [g["quantity"] for g in by_path["/api/v1/good-units"][0]["good_units"]] == [2]
