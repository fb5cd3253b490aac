"""Cost of poor quality: defects, scrap and rework, counted and costed.

Plant managers review scrap and rework cost trends; this part records the nonconformances,
the good units they are measured against, and what they cost at the rates of their time.

* Records (`service.quality.recording`): nonconformance records (``POST /api/v1/defects``,
  ``linewatch import-defects FILE.csv``, or the collector) and good-unit counts
  (``POST /api/v1/good-units``), checked one by one: a bad record is rejected with its reason,
  the rest of the batch is stored.
* Catalogue (`service.quality.catalogue`): defect codes with categories and dispositions,
  each disposition costed on one of six bases (scrap, rework, repair, use_as_is,
  return_to_supplier, customer_return).
* Cost (`service.quality.costing`): cost model versions per site, valid from a date until the
  next version; the cost of each record is computed in SQL with the version valid at its time
  and recomputed when a version changes.
* Queries (`service.quality.queries`): cost time series, Pareto, top movers, FPY / PPM / scrap
  and rework rates, all bucketed in the database from daily roll-ups
  (`service.quality.rollups`); links to the SPC alarms that preceded a defect
  (`service.quality.spc_links`); CSV and XLSX of any query (`service.quality.export`).

Collector payloads (the equipment side posts to the same API as people do)::

    POST /api/v1/defects      {"defects": [{"ts": "2026-03-02T06:14:00Z", "line": "line1",
        "station": "line1.op30", "product": "P-100", "defect_code": "DIM-001",
        "disposition": "scrap", "quantity": 3, "source": "line1-plc:reject", "seq": 1842}]}
    POST /api/v1/good-units   {"good_units": [{"ts": "2026-03-02T06:15:00Z", "line": "line1",
        "product": "P-100", "quantity": 57, "source": "line1-plc:good", "seq": 1843}]}

``quantity`` is the rise of the counter since the previous post (the collector turns a rising
counter into increments and handles its resets); ``source`` + ``seq`` make a replay after a
network outage a duplicate instead of a second record.
"""

from __future__ import annotations

__all__: list[str] = []
