"""Storage on both dialects: migrations (ordered, recorded, atomic), the repository helpers,
time buckets, the append-only audit log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from service_helpers import open_small_store

from service.storage import open_store
from service.storage.db import Tx, connect
from service.storage.migrations import MigrationError, applied_versions, discover, migrate
from service.storage.repository import Store


@pytest.fixture
def store(database_url: str):
    s = open_small_store(database_url)
    yield s
    s.close()


def test_migrations_are_numbered_and_recorded_once(store: Store, database_url: str) -> None:
    versions = [m.version for m in discover()]
    assert versions == sorted(versions) and versions[0] == 1
    assert applied_versions(store.db) == set(versions)
    again = connect(database_url)
    try:
        assert migrate(again) == []
    finally:
        again.close()


def test_a_failed_migration_leaves_the_database_as_it_was(
    tmp_path: Path, database_url: str
) -> None:
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0001_first.sql").write_text("CREATE TABLE alpha (id {pk}, at {ts});\n")
    (folder / "0002_broken.py").write_text(
        "def upgrade(tx):\n"
        "    tx.execute('CREATE TABLE beta (id INTEGER)')\n"
        "    tx.execute('INSERT INTO alpha (at) VALUES (NULL)')\n"
        "    tx.execute('THIS IS NOT SQL')\n"
    )
    db = connect(database_url)
    try:
        with pytest.raises(MigrationError, match=r"0002_broken\.py"):
            migrate(db, folder)
        assert applied_versions(db) == {1}
        with db.transaction(readonly=True) as tx:
            assert tx.scalar("SELECT count(*) FROM alpha") == 0
            tables = _tables(tx)
        assert "beta" not in tables and "alpha" in tables
        (folder / "0002_broken.py").write_text(
            "def upgrade(tx):\n    tx.ddl('CREATE TABLE beta (v {float})')\n"
        )
        assert [m.version for m in migrate(db, folder)] == [2]
    finally:
        db.close()


def test_duplicate_migration_numbers_are_refused(tmp_path: Path) -> None:
    (tmp_path / "0100_a.sql").write_text("SELECT 1;\n")
    (tmp_path / "0100_b.sql").write_text("SELECT 1;\n")
    with pytest.raises(MigrationError, match="two migrations numbered 0100"):
        discover(tmp_path)


def _tables(tx: Tx) -> set[str]:
    if tx.dialect == "sqlite":
        return {r[0] for r in tx.rows("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return {
        r[0]
        for r in tx.rows(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        )
    }


def test_schema_has_the_tables_of_the_issue(store: Store) -> None:
    with store.transaction(readonly=True) as tx:
        tables = _tables(tx)
    assert {
        "sites",
        "lines",
        "stations",
        "characteristics",
        "limit_versions",
        "limit_approvals",
        "measurements",
        "violations",
        "alarms",
        "outbox",
        "users",
        "api_tokens",
        "audit_log",
        "monitor_state",
        "monitor_heads",
        "schema_migrations",
    } <= tables


def test_tx_helpers_behave_alike(store: Store) -> None:
    when = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)
    with store.transaction() as tx:
        tx.ddl("CREATE TABLE t_helper (id {pk}, k TEXT UNIQUE, v {float}, at {ts}, doc {json})")
        new_id = tx.insert(
            "t_helper", {"k": "a", "v": 1.5, "at": tx.ts(when), "doc": tx.dump_json({"x": [1, 2]})}
        )
        assert new_id == 1
        tx.upsert("t_helper", {"k": "a", "v": 2.5, "at": tx.ts(when), "doc": "{}"}, key=["k"])
        tx.upsert(
            "t_helper",
            {"k": "b", "v": 3.5, "at": tx.ts(when + timedelta(hours=1)), "doc": "{}"},
            key=["k"],
        )
        rows = tx.fetchall("SELECT k, v, at FROM t_helper WHERE v > :low ORDER BY k", {"low": 2})
        assert [(r["k"], r["v"]) for r in rows] == [("a", 2.5), ("b", 3.5)]
        assert tx.to_dt(rows[0]["at"]) == when
        assert tx.scalar("SELECT count(*) FROM t_helper WHERE k LIKE '%' AND v > ?", [0]) == 2
        assert tx.load_json(tx.scalar("SELECT doc FROM t_helper WHERE k = ?", ["a"])) == {}
        n = tx.copy_rows(
            "t_helper",
            ["k", "v", "at", "doc"],
            [(f"c{i}", float(i), tx.ts(when), "{}") for i in range(100)],
            ["text", "float8", "timestamptz", "text"],
        )
        assert n == 100
        tx.lock_keys(99, [3, 1, 2])
    done: list[str] = []
    with store.transaction() as tx:
        tx.after_commit(lambda: done.append("committed"))
    assert done == ["committed"]
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.after_commit(lambda: done.append("never"))
        tx.execute("DELETE FROM t_helper")
        raise RuntimeError("roll back")
    with store.transaction(readonly=True) as tx:
        assert tx.scalar("SELECT count(*) FROM t_helper") == 102
    assert done == ["committed"]


def test_audit_log_is_append_only(store: Store) -> None:
    with store.transaction() as tx:
        store.repo.audit(
            tx,
            actor="ana",
            entity="characteristic",
            entity_key="k",
            action="create",
            after={"a": 1},
            reason="why",
        )
    with pytest.raises(Exception, match="append-only"), store.transaction() as tx:
        tx.execute("UPDATE audit_log SET actor = 'mallory'")
    with pytest.raises(Exception, match="append-only"), store.transaction() as tx:
        tx.execute("DELETE FROM audit_log")
    with store.transaction(readonly=True) as tx:
        (row,) = store.repo.audit_log(tx, entity="characteristic")
    assert (row["actor"], row["after"], row["reason"]) == ("ana", {"a": 1}, "why")


def test_time_buckets_agree_across_dialects(store: Store) -> None:
    from service.domain import Measurement

    start = datetime(2026, 1, 1, tzinfo=UTC)
    with store.transaction() as tx:
        char = store.repo.create_characteristic(
            tx, {"key": "k", "name": "k", "chart": "imr", "rules": "none", "params": {}}
        )
        batch = [
            Measurement(i, char.id, start + timedelta(minutes=7 * i), 100.0 + (i % 5))
            for i in range(40)
        ]
        for m, mid in zip(batch, store.repo.allocate_measurement_ids(tx, len(batch)), strict=True):
            m.id = mid
        store.repo.insert_measurements(tx, batch)
        buckets = store.repo.bucket_stats(
            tx, char.id, start, start + timedelta(days=1), 3600.0, 100.0
        )
    assert [b.start for b in buckets] == [start + timedelta(hours=h) for h in range(5)]
    assert sum(b.n for b in buckets) == 40
    first = [100.0 + (i % 5) for i in range(40) if 7 * i < 60]
    assert buckets[0].n == len(first)
    assert buckets[0].mean == pytest.approx(sum(first) / len(first))
    import statistics

    assert buckets[0].stddev == pytest.approx(statistics.stdev(first))
    assert (buckets[0].min, buckets[0].max) == (min(first), max(first))


def test_timescale_mode_is_reported(store: Store) -> None:
    # No TimescaleDB on this machine: the plain-table mode must be the one detected.
    assert store.db.timescale is False
    with store.transaction(readonly=True) as tx:
        expr = store.repo.bucket_expr(tx)
    assert ("date_bin" in expr) if store.dialect == "postgresql" else ("unixepoch" in expr)


def test_warming_loads_the_monitors_ingest_would_build(database_url: str) -> None:
    """`Evaluator.warm` (run at start) fills the cache with monitors equal to those of the
    process that wrote the data, and the next batch is judged exactly as without it."""
    from service import characteristics as char_service
    from service import limits as limit_service
    from service.context import Linewatch
    from service.settings import Settings

    config = Settings(database_url=database_url, secret_key="k" * 32, config_file=None)
    first = Linewatch(config, open_store(config))
    with first.store.transaction() as tx:
        for key in ("w.a", "w.b"):
            char = char_service.create(
                tx,
                first.store.repo,
                {"key": key, "name": key, "chart": "imr", "rules": "western-electric"},
                actor="test",
            )
            version = limit_service.propose(
                tx, first.store.repo, char, {"center": 10.0, "sigma": 1.0}, actor="test"
            )
            limit_service.approve(tx, first.store.repo, char, version, actor="test", reason=None)
    start = datetime.now(UTC) - timedelta(hours=1)

    def batch(offset: int, values: list[float]) -> list[dict[str, object]]:
        return [
            {
                "characteristic": key,
                "ts": (start + timedelta(seconds=offset + i)).isoformat(),
                "value": v,
            }
            for i, v in enumerate(values)
            for key in ("w.a", "w.b")
        ]

    first.ingest(batch(0, [10.5] * 7))  # seven above the center: the eighth is a WE4
    expected = {cid: s.snapshot() for cid, s in first.evaluator._cache.items()}
    first.store.close()

    second = Linewatch(config, open_store(config))
    try:
        with second.store.transaction(readonly=True) as tx:
            assert second.evaluator.warm(tx) == 2
        assert {cid: s.snapshot() for cid, s in second.evaluator._cache.items()} == expected
        result = second.ingest(batch(100, [10.5]))
        assert result.accepted == 2 and result.violations == 2  # WE4 on both, run kept
    finally:
        second.store.close()


def test_heads_move_to_their_own_table_with_their_values(tmp_path: Path, database_url: str) -> None:
    """Migration 0003 on a database that already evaluated: every head keeps its value."""
    folder = tmp_path / "migrations"
    folder.mkdir()
    shipped = {m.version: m.path for m in discover()}
    for version in (1, 2):
        (folder / shipped[version].name).write_text(shipped[version].read_text())
    db = connect(database_url)
    try:
        migrate(db, folder)
        with db.transaction() as tx:
            now = tx.ts(datetime(2026, 1, 1, tzinfo=UTC))
            for key, head in (("old.a", 77), ("old.b", 0)):
                cid = tx.insert(
                    "characteristics",
                    {"key": key, "name": key, "chart": "imr", "created_at": now, "updated_at": now},
                )
                tx.insert(
                    "monitor_state",
                    {
                        "characteristic_id": cid,
                        "head_id": head,
                        "checkpoint_id": 5,
                        "updated_at": now,
                    },
                    returning=None,
                )
        (folder / shipped[3].name).write_text(shipped[3].read_text())
        assert [m.version for m in migrate(db, folder)] == [3]
        with db.transaction(readonly=True) as tx:
            rows = tx.rows(
                "SELECT c.key, h.head_id, s.checkpoint_id FROM characteristics c "
                "JOIN monitor_heads h ON h.characteristic_id = c.id "
                "JOIN monitor_state s ON s.characteristic_id = c.id ORDER BY c.key"
            )
        assert [tuple(r) for r in rows] == [("old.a", 77, 5), ("old.b", 0, 5)]
    finally:
        db.close()
