"""Core schema: plant hierarchy, characteristics, limits, measurements, violations, alarms,
outbox, users and tokens, audit log, evaluation state.

Measurements are the one big table. It carries no foreign key (a per-row RI check would cost
ingest throughput; the service only stores ids it has resolved) and no unique index:
duplicates are detected under the per-characteristic ingest lock (see service.ingest), which
also works on a TimescaleDB hypertable, where unique indexes must contain the time column.
"""

from __future__ import annotations

from service.storage.db import Tx

COMMON = """
CREATE TABLE sites (
    id {pk},
    key TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL
);
CREATE TABLE lines (
    id {pk},
    site_id {bigint} NOT NULL REFERENCES sites (id) ON DELETE RESTRICT,
    key TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    area TEXT,
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL
);
CREATE TABLE stations (
    id {pk},
    line_id {bigint} NOT NULL REFERENCES lines (id) ON DELETE RESTRICT,
    key TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL
);
CREATE TABLE characteristics (
    id {pk},
    key TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    unit TEXT,
    description TEXT,
    station_id {bigint} REFERENCES stations (id) ON DELETE RESTRICT,
    chart TEXT NOT NULL,
    subgroup_size INTEGER NOT NULL DEFAULT 1,
    subgroup_by TEXT NOT NULL DEFAULT 'size',
    lsl {float},
    usl {float},
    target {float},
    rules TEXT NOT NULL DEFAULT 'western-electric',
    sigma_method TEXT,
    decimals INTEGER,
    params {json} NOT NULL DEFAULT '{}',
    auto_limits_after INTEGER,
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL
);
CREATE TABLE limit_versions (
    id {pk},
    characteristic_id {bigint} NOT NULL REFERENCES characteristics (id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    chart TEXT NOT NULL,
    center {float} NOT NULL,
    sigma {float} NOT NULL,
    nsigmas {float} NOT NULL,
    subgroup_size INTEGER,
    lcl {float},
    ucl {float},
    limits {json} NOT NULL,
    rules TEXT NOT NULL,
    method TEXT NOT NULL,
    phase1 {json} NOT NULL,
    computed_by TEXT NOT NULL,
    computed_at {ts} NOT NULL,
    reason TEXT,
    UNIQUE (characteristic_id, version)
);
CREATE TABLE limit_approvals (
    id {pk},
    characteristic_id {bigint} NOT NULL REFERENCES characteristics (id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    approved_by TEXT NOT NULL,
    approved_at {ts} NOT NULL,
    reason TEXT,
    start_after_id {bigint} NOT NULL,
    UNIQUE (characteristic_id, version)
);
CREATE TABLE monitor_state (
    characteristic_id {bigint} PRIMARY KEY REFERENCES characteristics (id) ON DELETE CASCADE,
    limit_version INTEGER,
    head_id {bigint} NOT NULL DEFAULT 0,
    checkpoint_id {bigint} NOT NULL DEFAULT 0,
    state {json},
    updated_at {ts} NOT NULL
);
CREATE TABLE alarms (
    id {pk},
    characteristic_id {bigint} NOT NULL REFERENCES characteristics (id) ON DELETE CASCADE,
    series TEXT NOT NULL,
    rule TEXT NOT NULL,
    state TEXT NOT NULL,
    limit_version INTEGER,
    opened_at {ts} NOT NULL,
    first_ts {ts} NOT NULL,
    last_ts {ts} NOT NULL,
    hits INTEGER NOT NULL DEFAULT 1,
    acknowledged_at {ts},
    acknowledged_by TEXT,
    cause TEXT,
    action TEXT,
    note TEXT,
    closed_at {ts},
    closed_by TEXT,
    close_note TEXT
);
CREATE UNIQUE INDEX alarms_one_active ON alarms (characteristic_id, series, rule)
    WHERE state <> 'closed';
CREATE INDEX alarms_state ON alarms (state, opened_at);
CREATE TABLE violations (
    id {pk},
    characteristic_id {bigint} NOT NULL,
    measurement_id {bigint} NOT NULL,
    ts {ts} NOT NULL,
    limit_version INTEGER NOT NULL,
    point_no {bigint} NOT NULL,
    series TEXT NOT NULL,
    rule TEXT NOT NULL,
    stat {float},
    alarm_id {bigint},
    created_at {ts} NOT NULL
);
CREATE INDEX violations_char_ts ON violations (characteristic_id, ts);
CREATE INDEX violations_alarm ON violations (alarm_id);
CREATE TABLE outbox (
    id {pk},
    created_at {ts} NOT NULL,
    event TEXT NOT NULL,
    alarm_id {bigint} NOT NULL,
    payload {json} NOT NULL,
    delivered_at {ts},
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE INDEX outbox_pending ON outbox (id) WHERE delivered_at IS NULL;
CREATE TABLE users (
    id {pk},
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    created_at {ts} NOT NULL,
    disabled_at {ts}
);
CREATE TABLE api_tokens (
    id {pk},
    user_id {bigint} NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    created_at {ts} NOT NULL,
    last_used_at {ts},
    revoked_at {ts}
);
CREATE TABLE audit_log (
    id {pk},
    at {ts} NOT NULL,
    actor TEXT NOT NULL,
    entity TEXT NOT NULL,
    entity_key TEXT NOT NULL,
    action TEXT NOT NULL,
    before {json},
    after {json},
    reason TEXT
);
CREATE INDEX audit_entity ON audit_log (entity, entity_key, id);
"""

MEASUREMENTS_PG = """
CREATE TABLE measurements (
    id BIGINT NOT NULL,
    characteristic_id INTEGER NOT NULL,
    ts TIMESTAMPTZ NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    subgroup TEXT,
    lot TEXT,
    serial TEXT,
    source TEXT NOT NULL DEFAULT '',
    seq BIGINT,
    quality TEXT,
    limit_version INTEGER,
    point_no BIGINT
);
CREATE SEQUENCE measurements_id_seq AS BIGINT;
CREATE INDEX measurements_char_ts ON measurements (characteristic_id, ts);
CREATE INDEX measurements_source_seq ON measurements (source, seq) WHERE seq IS NOT NULL;
"""

MEASUREMENTS_SQLITE = """
CREATE TABLE measurements (
    id INTEGER PRIMARY KEY,
    characteristic_id INTEGER NOT NULL,
    ts TEXT NOT NULL,
    value REAL NOT NULL,
    subgroup TEXT,
    lot TEXT,
    serial TEXT,
    source TEXT NOT NULL DEFAULT '',
    seq INTEGER,
    quality TEXT,
    limit_version INTEGER,
    point_no INTEGER
);
CREATE UNIQUE INDEX measurements_char_id ON measurements (characteristic_id, id);
CREATE INDEX measurements_char_ts ON measurements (characteristic_id, ts);
CREATE INDEX measurements_source_seq ON measurements (source, seq) WHERE seq IS NOT NULL;
"""

AUDIT_APPEND_ONLY_PG = """
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$
"""


def upgrade(tx: Tx) -> None:
    tx.ddl(COMMON)
    if tx.dialect == "postgresql":
        tx.ddl(MEASUREMENTS_PG)
        if tx.database.timescale:
            # A hypertable's unique indexes must include the time column: (characteristic,
            # id, ts) keeps the replay lookup by (characteristic, id) an index scan.
            tx.execute("CREATE INDEX measurements_char_id ON measurements (characteristic_id, id)")
            tx.execute(
                "SELECT create_hypertable('measurements', 'ts', "
                "chunk_time_interval => INTERVAL '1 day')"
            )
        else:
            tx.execute(
                "ALTER TABLE measurements ADD CONSTRAINT measurements_pkey "
                "PRIMARY KEY (characteristic_id, id)"
            )
            tx.execute("CREATE INDEX measurements_ts_brin ON measurements USING brin (ts)")
        tx.execute(AUDIT_APPEND_ONLY_PG)
        tx.execute(
            "CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
        )
    else:
        tx.ddl(MEASUREMENTS_SQLITE)
        for op in ("UPDATE", "DELETE"):
            tx.execute(
                f"CREATE TRIGGER audit_log_no_{op.lower()} BEFORE {op} ON audit_log "
                "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
            )
