"""Quality cost: defect catalogue, dispositions, nonconformance records, good-unit counts,
versioned cost models and the daily roll-ups the cost queries read.

Owned by service/quality (number range 0200-0299).

* ``quality_defects`` is the big table (one row per nonconformance record). It keeps its cost
  (``cost``, ``currency``, ``cost_model_id``): computed in SQL by `service.quality.costing` with
  the cost model valid at the record's time, and recomputed when a cost model version changes.
* ``quality_daily_*`` are roll-ups per UTC day and line at several grains (line; line and
  product; line and disposition; line, product and disposition; line and defect code; all).
  They are derived data, maintained in the transaction that changes the records
  (`service.quality.rollups`), so that a year of cost per week per line reads a few thousand
  rows instead of millions.
* A cost model version is valid from ``valid_from`` until the next version of its site
  (``valid_to``, kept in step by the code; NULL for the latest).
"""

from __future__ import annotations

from service.storage.db import Tx, utcnow

DISPOSITION_BASES = (
    "scrap",
    "rework",
    "repair",
    "use_as_is",
    "return_to_supplier",
    "customer_return",
)
SEEDED = (
    ("scrap", "Scrap"),
    ("rework", "Rework"),
    ("repair", "Repair"),
    ("use_as_is", "Use as is"),
    ("return_to_supplier", "Return to supplier"),
    ("customer_return", "Customer return"),
)

MEASURES = """
    currency TEXT,
    records {bigint} NOT NULL,
    quantity {bigint} NOT NULL,
    rework_minutes {float} NOT NULL,
    cost {float} NOT NULL,
    uncosted {bigint} NOT NULL
"""

SCHEMA = f"""
CREATE TABLE quality_defect_codes (
    id {{pk}},
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    category TEXT NOT NULL,
    description TEXT,
    active INTEGER NOT NULL DEFAULT 1,
    created_at {{ts}} NOT NULL,
    updated_at {{ts}} NOT NULL
);
CREATE TABLE quality_dispositions (
    id {{pk}},
    key TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    basis TEXT NOT NULL CHECK (basis IN ({", ".join(f"'{b}'" for b in DISPOSITION_BASES)})),
    active INTEGER NOT NULL DEFAULT 1,
    created_at {{ts}} NOT NULL,
    updated_at {{ts}} NOT NULL
);
CREATE TABLE quality_defects (
    id {{pk}},
    ts {{ts}} NOT NULL,
    line_id {{bigint}} NOT NULL REFERENCES lines (id) ON DELETE RESTRICT,
    station_id {{bigint}} REFERENCES stations (id) ON DELETE RESTRICT,
    product TEXT NOT NULL,
    lot TEXT,
    serial TEXT,
    defect_code_id {{bigint}} NOT NULL REFERENCES quality_defect_codes (id) ON DELETE RESTRICT,
    disposition_id {{bigint}} NOT NULL REFERENCES quality_dispositions (id) ON DELETE RESTRICT,
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    rework_minutes {{float}} NOT NULL DEFAULT 0 CHECK (rework_minutes >= 0),
    recorded_by TEXT NOT NULL,
    reported_by TEXT,
    note TEXT,
    source TEXT NOT NULL DEFAULT '',
    seq {{bigint}},
    created_at {{ts}} NOT NULL,
    cost_model_id {{bigint}},
    currency TEXT,
    cost {{float}}
);
CREATE INDEX quality_defects_line_ts ON quality_defects (line_id, ts);
CREATE INDEX quality_defects_lot ON quality_defects (lot) WHERE lot IS NOT NULL;
CREATE UNIQUE INDEX quality_defects_source_seq ON quality_defects (source, seq)
    WHERE seq IS NOT NULL;
CREATE TABLE quality_good_units (
    id {{pk}},
    ts {{ts}} NOT NULL,
    line_id {{bigint}} NOT NULL REFERENCES lines (id) ON DELETE RESTRICT,
    product TEXT NOT NULL,
    quantity {{bigint}} NOT NULL CHECK (quantity >= 0),
    source TEXT NOT NULL DEFAULT '',
    seq {{bigint}},
    recorded_by TEXT NOT NULL,
    created_at {{ts}} NOT NULL
);
CREATE INDEX quality_good_units_line_ts ON quality_good_units (line_id, ts);
CREATE UNIQUE INDEX quality_good_units_source_seq ON quality_good_units (source, seq)
    WHERE seq IS NOT NULL;
CREATE TABLE quality_cost_models (
    id {{pk}},
    site_id {{bigint}} NOT NULL REFERENCES sites (id) ON DELETE RESTRICT,
    valid_from {{ts}} NOT NULL,
    valid_to {{ts}},
    currency TEXT NOT NULL,
    labour_rate {{float}} NOT NULL CHECK (labour_rate >= 0),
    note TEXT,
    created_by TEXT NOT NULL,
    created_at {{ts}} NOT NULL,
    updated_at {{ts}} NOT NULL,
    UNIQUE (site_id, valid_from)
);
CREATE TABLE quality_cost_products (
    model_id {{bigint}} NOT NULL REFERENCES quality_cost_models (id) ON DELETE CASCADE,
    product TEXT NOT NULL,
    unit_cost {{float}} NOT NULL,
    rework_material {{float}} NOT NULL DEFAULT 0,
    customer_return_cost {{float}} NOT NULL DEFAULT 0,
    supplier_return_cost {{float}} NOT NULL DEFAULT 0,
    PRIMARY KEY (model_id, product)
);
CREATE TABLE quality_cost_stations (
    model_id {{bigint}} NOT NULL,
    product TEXT NOT NULL,
    station_id {{bigint}} NOT NULL REFERENCES stations (id) ON DELETE RESTRICT,
    unit_cost {{float}} NOT NULL,
    PRIMARY KEY (model_id, product, station_id),
    FOREIGN KEY (model_id, product) REFERENCES quality_cost_products (model_id, product)
        ON DELETE CASCADE
);
CREATE TABLE quality_daily_line (
    day {{ts}} NOT NULL,
    line_id {{bigint}} NOT NULL,
    {MEASURES},
    PRIMARY KEY (day, line_id)
);
CREATE TABLE quality_daily_product (
    day {{ts}} NOT NULL,
    line_id {{bigint}} NOT NULL,
    product TEXT NOT NULL,
    {MEASURES},
    PRIMARY KEY (day, line_id, product)
);
CREATE TABLE quality_daily_code (
    day {{ts}} NOT NULL,
    line_id {{bigint}} NOT NULL,
    defect_code_id {{bigint}} NOT NULL,
    {MEASURES},
    PRIMARY KEY (day, line_id, defect_code_id)
);
CREATE TABLE quality_daily_disposition (
    day {{ts}} NOT NULL,
    line_id {{bigint}} NOT NULL,
    disposition_id {{bigint}} NOT NULL,
    {MEASURES},
    PRIMARY KEY (day, line_id, disposition_id)
);
CREATE TABLE quality_daily_product_disposition (
    day {{ts}} NOT NULL,
    line_id {{bigint}} NOT NULL,
    product TEXT NOT NULL,
    disposition_id {{bigint}} NOT NULL,
    {MEASURES},
    PRIMARY KEY (day, line_id, product, disposition_id)
);
CREATE TABLE quality_daily_full (
    day {{ts}} NOT NULL,
    line_id {{bigint}} NOT NULL,
    product TEXT NOT NULL,
    defect_code_id {{bigint}} NOT NULL,
    disposition_id {{bigint}} NOT NULL,
    {MEASURES},
    PRIMARY KEY (day, line_id, product, defect_code_id, disposition_id)
);
CREATE TABLE quality_units_daily (
    day {{ts}} NOT NULL,
    line_id {{bigint}} NOT NULL,
    product TEXT NOT NULL,
    good {{bigint}} NOT NULL,
    PRIMARY KEY (day, line_id, product)
);
"""


def upgrade(tx: Tx) -> None:
    tx.ddl(SCHEMA)
    if tx.dialect == "postgresql":
        tx.execute("CREATE INDEX quality_defects_ts_brin ON quality_defects USING brin (ts)")
    else:
        tx.execute("CREATE INDEX quality_defects_ts ON quality_defects (ts)")
    now = tx.ts(utcnow())
    for key, name in SEEDED:
        tx.insert(
            "quality_dispositions",
            {
                "key": key,
                "name": name,
                "basis": key,
                "active": 1,
                "created_at": now,
                "updated_at": now,
            },
            returning=None,
        )
