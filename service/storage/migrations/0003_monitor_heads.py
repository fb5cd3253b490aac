"""Evaluation heads in a narrow table of their own.

Every ingest transaction moves the head (the last measurement evaluated) of each characteristic
it touched: 1,000 rows for a batch over 1,000 characteristics. As a column of ``monitor_state``
each such update rewrote the whole row, checkpointed monitor state included (about 700 bytes of
JSON), in the heap and in the WAL. Measured alone, 1,000 head updates took 10 ms in the wide
table and 6 ms in a two-column one, which also stayed at 2 MB where the wide one grew to 48 MB
before vacuum (60 such transactions). In bench/bench_ingest.py the transaction's write phase
went from 14.9 to 14.0 ms (two runs each); the WAL of 1,000 head updates fell from 0.96 MB to
0.17 MB. ``monitor_state`` keeps the limit version and the checkpoint, which change rarely.
"""

from __future__ import annotations

from service.storage.db import Tx

SCHEMA = """
CREATE TABLE monitor_heads (
    characteristic_id {bigint} PRIMARY KEY REFERENCES characteristics (id) ON DELETE CASCADE,
    head_id {bigint} NOT NULL DEFAULT 0
);
INSERT INTO monitor_heads (characteristic_id, head_id)
    SELECT characteristic_id, head_id FROM monitor_state;
ALTER TABLE monitor_state DROP COLUMN head_id;
"""


def upgrade(tx: Tx) -> None:
    tx.ddl(SCHEMA)
