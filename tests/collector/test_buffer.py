"""The disk buffer: ordering, seq numbering, dead letters, the full policies, crash safety."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from collector.buffer import RECEIPTS_KEPT, DiskBuffer
from collector.sources.base import BufferFull, SourceSample

ROOT = Path(__file__).resolve().parents[2]


def samples(n: int, start: int = 0, characteristic: str = "c") -> list[SourceSample]:
    return [
        SourceSample(characteristic, f"2026-11-26T10:00:{i % 60:02d}Z", float(i))
        for i in range(start, start + n)
    ]


def test_append_peek_ack_in_order(tmp_path: Path) -> None:
    buf = DiskBuffer(tmp_path / "b.db")
    buf.append(samples(5))
    buf.append([SourceSample("c", "2026-11-26T10:00:00Z", 9.0, "sg", "lot", "sn", "bad")])
    rows = buf.peek(4)
    assert [r.value for r in rows] == [0, 1, 2, 3]
    assert [r.seq for r in rows] == list(range(rows[0].seq, rows[0].seq + 4))
    assert buf.ack(rows[0].seq, rows[-1].seq) == 4
    rest = buf.peek(10)
    assert [r.value for r in rest] == [4, 9]
    assert (rest[1].subgroup, rest[1].lot, rest[1].serial, rest[1].quality) == (
        "sg",
        "lot",
        "sn",
        "bad",
    )
    assert rest[0].quality is None  # "good" is the default and not stored
    assert buf.pending == 2


def test_seq_keeps_increasing_across_reopen_even_when_emptied(tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    buf = DiskBuffer(path)
    buf.append(samples(3))
    rows = buf.peek(3)
    buf.ack(rows[0].seq, rows[-1].seq)
    buf.close()
    buf = DiskBuffer(path)
    assert buf.pending == 0
    buf.append(samples(1))
    assert buf.peek(1)[0].seq == rows[-1].seq + 1


def test_new_buffer_starts_past_any_earlier_seq(tmp_path: Path) -> None:
    """A deleted and recreated buffer must not reuse seq numbers the service already has."""
    first = DiskBuffer(tmp_path / "a.db")
    first.append(samples(1000))
    last = first.peek(1000)[-1].seq
    time.sleep(0.01)
    second = DiskBuffer(tmp_path / "b.db")
    second.append(samples(1))
    assert second.peek(1)[0].seq > last
    assert second.peek(1)[0].seq < 2**53  # exact in JSON and JavaScript


def test_rejected_readings_move_to_dead_letters(tmp_path: Path) -> None:
    buf = DiskBuffer(tmp_path / "b.db", dead_letter_max_rows=2)
    buf.append(samples(4))
    rows = buf.peek(4)
    buf.ack(rows[0].seq, rows[-1].seq, [(rows[1].seq, "unknown characteristic")])
    dead = buf.dead_letters()
    assert [(r.value, reason) for r, reason in dead] == [(1.0, "unknown characteristic")]
    assert buf.pending == 0 and buf.stats().dead_letters == 1
    buf.append(samples(3, start=10))
    rows = buf.peek(3)
    buf.ack(rows[0].seq, rows[-1].seq, [(r.seq, "bad") for r in rows])
    assert [r.value for r, _ in buf.dead_letters()] == [11.0, 12.0]  # newest kept


def _fill(buf: DiskBuffer) -> int:
    n = 0
    while not buf.is_full():
        buf.append(samples(500, start=n, characteristic="x" * 100))
        n += 500
    return n


def test_full_stop_acknowledging_keeps_oldest_and_refuses(tmp_path: Path) -> None:
    buf = DiskBuffer(tmp_path / "b.db", max_bytes=1 << 20)
    n = _fill(buf)
    with pytest.raises(BufferFull):
        buf.append(samples(1, start=n))
    assert buf.pending == n
    assert buf.peek(1)[0].value == 0.0
    rows = buf.peek(n // 2)  # the sink forwards half: room again
    buf.ack(rows[0].seq, rows[-1].seq)
    assert buf.append(samples(1, start=n)).stored == 1


def test_full_drop_oldest_and_drop_newest(tmp_path: Path) -> None:
    buf = DiskBuffer(tmp_path / "o.db", max_bytes=1 << 20, when_full="drop-oldest")
    n = _fill(buf)
    result = buf.append(samples(10, start=n))
    assert result.stored == 10 and result.dropped_oldest >= 10
    assert buf.peek(1)[0].value == float(result.dropped_oldest)
    buf2 = DiskBuffer(tmp_path / "n.db", max_bytes=1 << 20, when_full="drop-newest")
    m = _fill(buf2)
    result = buf2.append(samples(10, start=m))
    assert (result.stored, result.dropped_newest) == (0, 10)
    assert buf2.pending == m


def test_drop_oldest_spares_readings_being_sent(tmp_path: Path) -> None:
    buf = DiskBuffer(tmp_path / "o.db", max_bytes=1 << 20, when_full="drop-oldest")
    _fill(buf)
    inflight = buf.peek(100)
    buf.append(samples(600, start=10**6))
    assert [r.seq for r in buf.peek(100)] == [r.seq for r in inflight]


def test_receipts_are_stored_with_readings_and_pruned(tmp_path: Path) -> None:
    buf = DiskBuffer(tmp_path / "b.db")
    buf.append(samples(2), "mqtt-1", [(1, 111), (2, 2**32 - 1)])
    buf.append([], "mqtt-1", [(3, 333)])
    buf.append(samples(1), "other", [(1, 9)])
    assert buf.receipts("mqtt-1") == [(1, 111), (2, 2**32 - 1), (3, 333)]
    big = [(i % 65536, i) for i in range(RECEIPTS_KEPT)]
    for _ in range(3):
        buf.append([], "mqtt-1", big)
    kept = buf.receipts("mqtt-1")
    assert RECEIPTS_KEPT <= len(kept) <= 2 * RECEIPTS_KEPT
    assert kept[-1] == big[-1]
    assert buf.receipts("other") == [(1, 9)]


def test_failed_transaction_stores_nothing(tmp_path: Path) -> None:
    buf = DiskBuffer(tmp_path / "b.db")
    bad = [*samples(3), SourceSample("c", "t", None)]  # type: ignore[arg-type]
    with pytest.raises(sqlite3.IntegrityError):
        buf.append(bad, "s", [(1, 1)])
    assert buf.pending == 0 and buf.peek(10) == [] and buf.receipts("s") == []
    buf.append(samples(1))
    assert buf.pending == 1


WRITER = """
import sys
from collector.buffer import DiskBuffer
from collector.sources.base import SourceSample
buf = DiskBuffer(sys.argv[1])
i = 0
while True:
    buf.append([SourceSample("c", "2026-11-26T10:00:00Z", float(i + k)) for k in range(100)])
    i += 100
    print(i, flush=True)
"""


def test_committed_batches_survive_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdout is not None
    confirmed = 0
    for line in proc.stdout:
        confirmed = int(line)
        if confirmed >= 20_000:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    buf = DiskBuffer(path)
    rows = buf.peek(10**7)
    values = [r.value for r in rows]
    assert len(values) >= confirmed  # every batch reported committed is there
    assert values == [float(i) for i in range(len(values))]  # whole batches, in order
    assert len(values) % 100 == 0


def test_mixed_batch_keeps_order_and_fields(tmp_path: Path) -> None:
    buf = DiskBuffer(tmp_path / "b.db")
    batch = [
        SourceSample("c", "t", float(i), lot="L" if i % 3 == 0 else None, quality="good")
        for i in range(9)
    ]
    buf.append(batch)
    rows = buf.peek(10)
    assert [r.value for r in rows] == [float(i) for i in range(9)]
    assert [r.lot for r in rows] == ["L", None, None] * 3
    assert [r.seq - rows[0].seq for r in rows] == list(range(9))
