"""The cost of a nonconformance record, computed in SQL with the cost model of its time.

Cost of poor quality in the sense of Juran's internal and external failure costs (Juran's
Quality Handbook, 5th ed., section 8; ASQ "cost of quality"): only the failure costs that
records carry are counted here, each at the rates valid when the record happened:

    labour   = rework_minutes × labour_rate / 60                  (every disposition)
    per unit, by the basis of the disposition:
      scrap               unit cost at the station of rejection (material + labour up to it),
                          else the product's unit_cost (a finished unit)
      rework, repair      rework_material
      use_as_is           0
      return_to_supplier  supplier_return_cost (handling; the part itself is charged back)
      customer_return     unit_cost + customer_return_cost (replacement + handling, freight)
    cost     = labour + quantity × per unit

A version holds the rates of one site (currency, labour rate, per product: unit cost, rework
material, return costs and unit costs per station); product ``"*"`` stands for every product
without its own entry. A record without a valid version or product entry stays uncosted
(``cost`` NULL) and is counted as such by the queries, so missing rates show instead of reading
as zero cost.

The SQL below is the only place the formula lives: new records are costed by it right after
they are stored, and a change of a version re-runs it for the records in that version's
validity (then the roll-ups of those days are rebuilt).
"""

from __future__ import annotations

from typing import Any

from service.storage.db import Tx


def _pick(column: str) -> str:
    """The product's own entry when it has one, else the "*" entry."""
    return f"(CASE WHEN pe.model_id IS NOT NULL THEN pe.{column} ELSE pd.{column} END)"


PER_UNIT = f"""(CASE dp.basis
    WHEN 'scrap' THEN coalesce(
        CASE WHEN pe.model_id IS NOT NULL THEN se.unit_cost ELSE sd.unit_cost END,
        {_pick("unit_cost")})
    WHEN 'rework' THEN {_pick("rework_material")}
    WHEN 'repair' THEN {_pick("rework_material")}
    WHEN 'return_to_supplier' THEN {_pick("supplier_return_cost")}
    WHEN 'customer_return' THEN {_pick("unit_cost")} + {_pick("customer_return_cost")}
    ELSE 0 END)"""

COSTED = """
SELECT d.id AS id, m.id AS model_id, m.currency AS currency,
       CASE WHEN m.id IS NULL OR (pe.model_id IS NULL AND pd.model_id IS NULL) THEN NULL
            ELSE d.rework_minutes * m.labour_rate / 60.0 + d.quantity * {per_unit} END AS cost
FROM quality_defects d
JOIN lines l ON l.id = d.line_id
JOIN quality_dispositions dp ON dp.id = d.disposition_id
LEFT JOIN quality_cost_models m ON m.site_id = l.site_id AND m.valid_from <= d.ts
     AND (m.valid_to IS NULL OR d.ts < m.valid_to)
LEFT JOIN quality_cost_products pe ON pe.model_id = m.id AND pe.product = d.product
LEFT JOIN quality_cost_products pd ON pd.model_id = m.id AND pd.product = '*'
LEFT JOIN quality_cost_stations se ON se.model_id = m.id AND se.product = d.product
     AND se.station_id = d.station_id
LEFT JOIN quality_cost_stations sd ON sd.model_id = m.id AND sd.product = '*'
     AND sd.station_id = d.station_id
WHERE {where}
"""


def cost_records(tx: Tx, where: str, params: list[Any]) -> int:
    """(Re)compute cost, currency and cost model of the records matching `where` (a condition
    on ``d``, the defect records); returns the number of records costed."""
    sql = (
        "UPDATE quality_defects SET cost_model_id = c.model_id, currency = c.currency, "
        f"cost = c.cost FROM ({COSTED.format(per_unit=PER_UNIT, where=where)}) AS c "
        "WHERE quality_defects.id = c.id"
    )
    return tx.execute(sql, params)
