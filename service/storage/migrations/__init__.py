"""Versioned schema migrations, applied in order by `migrate` (`linewatch db upgrade`, start).

Conventions (other parts add their own files here):

* A migration is a file in this folder named ``NNNN_short_name.py`` or ``NNNN_short_name.sql``;
  ``NNNN`` is its version, four digits, unique. Number ranges are owned by parts:
  ``0001``-``0099`` storage and service core, ``0100``-``0199`` alerting (notifications),
  ``0200``-``0299`` quality cost; a new part takes the next free hundred.
* A ``.py`` migration defines ``upgrade(tx: service.storage.db.Tx) -> None``; it can branch on
  ``tx.dialect`` (``"postgresql"`` or ``"sqlite"``) and on ``tx.database.timescale``
  (True when the ``timescaledb`` extension is available and enabled). A ``.sql`` migration is
  run as is on both dialects, after ``{pk} {ts} {float} {bigint} {json}`` are replaced by the
  dialect's types (see `service.storage.db.TYPES`); statements end with ``;`` at a line end.
* Each migration runs in ONE transaction together with its row in ``schema_migrations``
  (version, name, applied_at): a failed migration leaves the database as it was, and the error
  names the file. Both PostgreSQL and SQLite have transactional DDL.
* Concurrent starts (several replicas) are safe: each migration transaction first takes a
  PostgreSQL advisory lock and re-checks whether the version was applied meanwhile.
* There are no downgrades: fix forward with a new number. Never edit an applied migration.
* Statements that cannot run in a transaction (TimescaleDB continuous aggregates, policies) are
  not migrations: `service.storage.timescale.ensure_timescale` runs them idempotently at start.
"""

from __future__ import annotations

import importlib.util
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from service.storage.db import Database, Tx, utcnow

log = logging.getLogger("linewatch.storage")

MIGRATIONS_DIR = Path(__file__).parent
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.(py|sql)$")
LOCK_NAMESPACE = 0x4C57  # "LW": advisory lock namespace for schema changes
MIGRATION_LOCK_KEY = 1


class MigrationError(RuntimeError):
    """A migration failed; the database is left as it was before that migration."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    def run(self, tx: Tx) -> None:
        if self.path.suffix == ".sql":
            tx.ddl(self.path.read_text(encoding="utf-8"))
            return
        self.load()(tx)

    def load(self) -> Callable[[Tx], None]:
        spec = importlib.util.spec_from_file_location(
            f"service.storage.migrations.m{self.version:04d}_{self.name}", self.path
        )
        if spec is None or spec.loader is None:
            raise MigrationError(f"cannot load migration {self.path.name}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        upgrade = getattr(module, "upgrade", None)
        if not callable(upgrade):
            raise MigrationError(f"{self.path.name} defines no upgrade(tx)")
        return upgrade  # type: ignore[no-any-return]


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """All migration files in `directory`, in version order; duplicate versions are an error."""
    found: dict[int, Migration] = {}
    for path in sorted(directory.iterdir()):
        m = _NAME.match(path.name)
        if not m:
            continue
        version = int(m.group(1))
        if version in found:
            raise MigrationError(
                f"two migrations numbered {version:04d}: {found[version].path.name}, {path.name}"
            )
        found[version] = Migration(version, m.group(2), path)
    return [found[v] for v in sorted(found)]


def _ensure_table(db: Database) -> None:
    with db.transaction() as tx:
        tx.lock_keys(LOCK_NAMESPACE, [MIGRATION_LOCK_KEY])
        tx.ddl(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at {ts} NOT NULL)"
        )


def applied_versions(db: Database) -> set[int]:
    _ensure_table(db)
    with db.transaction(readonly=True) as tx:
        return {int(r[0]) for r in tx.rows("SELECT version FROM schema_migrations")}


def migrate(db: Database, directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Apply every pending migration in order; returns those applied by this call."""
    pending = [m for m in discover(directory) if m.version not in applied_versions(db)]
    done: list[Migration] = []
    for migration in pending:
        try:
            with db.transaction() as tx:
                tx.lock_keys(LOCK_NAMESPACE, [MIGRATION_LOCK_KEY])
                if tx.scalar(
                    "SELECT 1 FROM schema_migrations WHERE version = ?", [migration.version]
                ):
                    continue  # another process applied it while we waited for the lock
                migration.run(tx)
                tx.insert(
                    "schema_migrations",
                    {
                        "version": migration.version,
                        "name": migration.name,
                        "applied_at": tx.ts(utcnow()),
                    },
                    returning=None,
                )
        except MigrationError:
            raise
        except Exception as exc:
            raise MigrationError(
                f"migration {migration.path.name} failed and was rolled back: {exc}"
            ) from exc
        log.info("migration applied", extra={"version": migration.version})
        done.append(migration)
    return done
