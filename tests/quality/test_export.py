"""CSV and XLSX of the queries hold the same rows as their JSON answer."""

from __future__ import annotations

import csv
import io
from datetime import datetime

import httpx
import pytest
from month_seed import V1, V2, defects
from openpyxl import load_workbook
from quality_helpers import LiveServer, ok, post_defects

MONTH = {"from": "2026-03-01T00:00:00Z", "to": "2026-04-01T00:00:00Z"}


@pytest.fixture
def manager(plant: httpx.Client, live: LiveServer) -> httpx.Client:
    manager = live.client("manager", "maria")
    for version in (V1, V2):
        ok(manager.post("/api/v1/cost-models", json=version), 201)
    post_defects(manager, defects(seed=3, n=120))
    return manager


def test_quality_cost_as_csv_and_xlsx(manager: httpx.Client) -> None:
    params = {**MONTH, "bucket": "week", "by": "line"}
    rows = ok(manager.get("/api/v1/quality-cost", params=params))["rows"]
    assert rows

    as_csv = manager.get("/api/v1/quality-cost", params={**params, "format": "csv"})
    assert as_csv.status_code == 200
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert as_csv.headers["content-disposition"] == (
        'attachment; filename="quality-cost_week_line_2026-03-01_2026-04-01.csv"'
    )
    table = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [
        (datetime.fromisoformat(r["bucket"]), r["key"], float(r["cost"]), int(r["records"]))
        for r in table
    ] == [
        (datetime.fromisoformat(r["bucket"]), r["key"], pytest.approx(r["cost"]), r["records"])
        for r in rows
    ]

    as_xlsx = manager.get("/api/v1/quality-cost", params={**params, "format": "xlsx"})
    assert as_xlsx.status_code == 200
    assert as_xlsx.headers["content-type"].startswith("application/vnd.openxmlformats")
    book = load_workbook(io.BytesIO(as_xlsx.content))
    sheet = book["quality-cost_week_line"]
    header, *cells = list(sheet.values)
    assert header[:4] == ("bucket", "key", "name", "currency")
    assert [(c[0], c[1], c[header.index("cost")]) for c in cells] == [
        (
            datetime.fromisoformat(r["bucket"]).replace(tzinfo=None),
            r["key"],
            pytest.approx(r["cost"]),
        )
        for r in rows
    ]
    query = dict(list(book["query"].values)[1:])
    assert query["bucket"] == "week" and query["by"] == "line"
    assert query["source"] == "quality_daily_line"


def test_pareto_and_defect_list_exports(manager: httpx.Client) -> None:
    pareto = ok(manager.get("/api/v1/defects/pareto", params={**MONTH, "measure": "cost"}))
    exported = manager.get(
        "/api/v1/defects/pareto", params={**MONTH, "measure": "cost", "format": "csv"}
    )
    table = list(csv.DictReader(io.StringIO(exported.text)))
    assert [r["key"] for r in table] == [i["key"] for i in pareto["items"]]
    assert float(table[-1]["cumulative_share"]) == pytest.approx(1.0)

    listed = ok(manager.get("/api/v1/defects", params={**MONTH, "limit": 5000}))
    book = load_workbook(
        io.BytesIO(
            manager.get(
                "/api/v1/defects", params={**MONTH, "limit": 5000, "format": "xlsx"}
            ).content
        )
    )
    header, *cells = list(book["defects"].values)
    assert len(cells) == len(listed) == 122
    assert [c[header.index("id")] for c in cells] == [r["id"] for r in listed]
    assert [c[header.index("cost")] for c in cells] == [pytest.approx(r["cost"]) for r in listed]
    operator_csv = manager.get("/api/v1/defects", params={**MONTH, "format": "pdf"})
    assert operator_csv.status_code == 422 and operator_csv.json()["field"] == "format"
