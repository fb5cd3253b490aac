"""Storage: PostgreSQL (optionally TimescaleDB) or SQLite behind one repository.

* `service.storage.db`: pools, the `Tx` transaction helper, dialect differences;
* `service.storage.migrations`: versioned migrations (conventions in its docstring);
* `service.storage.repository`: `Repository`, `Store` (database + repository);
* `service.storage.timescale`: hypertable, continuous aggregate and policies.

`open_store(settings)` is the one entry point that prepares a database for use.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("linewatch.storage")


def open_store(settings: Any, *, migrate: bool | None = None) -> Any:
    """Connect, detect TimescaleDB, apply pending migrations (unless told not to), log the mode."""
    from service.storage.migrations import migrate as run_migrations
    from service.storage.repository import Store, repository_for
    from service.storage.timescale import detect_timescale, ensure_timescale

    url = settings.resolved_database_url
    store = Store.open(url, min_size=settings.pool_min_size, max_size=settings.pool_max_size)
    try:
        detect_timescale(store.db, settings.timescale)
        store.repo = repository_for(store.db)
        if settings.migrate_on_start if migrate is None else migrate:
            run_migrations(store.db)
            ensure_timescale(store.db, settings)
    except BaseException:
        store.close()
        raise
    mode = {
        (
            "postgresql",
            True,
        ): "PostgreSQL with TimescaleDB (hypertable, hourly continuous aggregate)",
        ("postgresql", False): "PostgreSQL, plain tables (BRIN on time, B-tree on characteristic)",
    }.get((store.dialect, store.db.timescale), "SQLite (embedded)")
    log.info("storage mode: %s", mode)
    return store
