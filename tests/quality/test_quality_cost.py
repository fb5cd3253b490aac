"""A seeded month on each store: cost per week per line, Pareto order, FPY and a cost model
change in the middle of the month, against figures computed in the test record by record."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

import httpx
import pytest
from month_seed import (
    BOUNDARY_COSTS,
    CATEGORY,
    V1,
    V2,
    defects,
    good_units,
    iso,
    parse,
    totals,
    week_of,
)
from quality_helpers import LiveServer, ok, post_defects

MONTH = {"from": "2026-03-01T00:00:00Z", "to": "2026-04-01T00:00:00Z"}
INTERNAL = ("scrap", "rework", "repair", "use_as_is", "return_to_supplier")


def approx(value: float) -> Any:
    return pytest.approx(value, rel=1e-9, abs=1e-9)


@pytest.fixture
def month(plant: httpx.Client, live: LiveServer) -> dict[str, Any]:
    """Cost models V1 and V2, the month's records (by an operator) and good units."""
    manager = live.client("manager", "maria")
    for version in (V1, V2):
        ok(manager.post("/api/v1/cost-models", json=version), 201)
    records = defects()
    operator = live.client("operator", "otto")
    answer = post_defects(operator, records)
    assert answer["accepted"] == len(records) and answer["rejected"] == []
    units = good_units()
    answer = ok(operator.post("/api/v1/good-units", json={"good_units": units}))
    assert answer["accepted"] == len(units)
    return {
        "records": records,
        "ids": answer["ids"],
        "defect_ids": None,
        "units": units,
        "manager": manager,
        "operator": operator,
    }


def cost_rows(client: httpx.Client, **params: Any) -> dict[str, Any]:
    return ok(client.get("/api/v1/quality-cost", params={**MONTH, **params}))  # type: ignore[no-any-return]


def test_cost_per_week_per_line_matches_the_records(month: dict[str, Any]) -> None:
    records, manager = month["records"], month["manager"]
    expected = totals(records, [V1, V2], lambda r: (week_of(parse(r["ts"])), r["line"]))
    body = cost_rows(manager, bucket="week", by="line")
    assert body["source"] == "quality_daily_line"
    got = {(datetime.fromisoformat(r["bucket"]), r["key"]): r for r in body["rows"]}
    assert set(got) == set(expected)
    for key, want in expected.items():
        row = got[key]
        assert row["cost"] == approx(want["cost"]), key
        assert row["quantity"] == want["quantity"]
        assert row["records"] == want["records"]
        assert row["currency"] == "EUR" and row["uncosted"] == 0
    first_week = datetime.fromisoformat("2026-02-23T00:00:00+00:00")
    assert {k[0] for k in got} >= {first_week}  # Sunday 1 March is in the ISO week of 23 Feb
    all_cost = sum(t["cost"] for t in expected.values())
    assert body["totals"] == [
        {
            "currency": "EUR",
            "records": len(records),
            "quantity": sum(r["quantity"] for r in records),
            "rework_minutes": approx(sum(r.get("rework_minutes", 0.0) for r in records)),
            "cost": approx(all_cost),
            "uncosted": 0,
        }
    ]
    # the same month by day, by month, by station (read from the records) adds up the same
    for params in (
        {"bucket": "day", "by": "line"},
        {"bucket": "month", "by": "product"},
        {"bucket": "month", "by": "station"},
    ):
        other = cost_rows(manager, **params)
        assert sum(r["cost"] for r in other["rows"]) == approx(all_cost), params
    by_station = cost_rows(manager, bucket="month", by="station")
    assert by_station["source"] == "records"
    want_station = totals(records, [V1, V2], lambda r: r.get("station"))
    assert {r["key"]: r["cost"] for r in by_station["rows"]} == {
        k: approx(v["cost"]) for k, v in want_station.items()
    }


def test_filters_and_unaligned_windows_read_the_records(month: dict[str, Any]) -> None:
    records, manager = month["records"], month["manager"]
    start, end = "2026-03-10T12:00:00Z", "2026-03-20T06:30:00Z"
    inside = [r for r in records if parse(start) <= parse(r["ts"]) < parse(end)]
    body = ok(
        manager.get(
            "/api/v1/quality-cost",
            params={
                "from": start,
                "to": end,
                "bucket": "day",
                "by": "defect_code",
                "line": "L2",
                "category": ["dimensional", "surface"],
            },
        )
    )
    assert body["source"] == "records"
    chosen = [
        r
        for r in inside
        if r["line"] == "L2" and CATEGORY[r["defect_code"]] in ("dimensional", "surface")
    ]
    expected = totals(chosen, [V1, V2], lambda r: (parse(r["ts"]).date(), r["defect_code"]))
    got = {(datetime.fromisoformat(r["bucket"]).date(), r["key"]): r for r in body["rows"]}
    assert set(got) == set(expected)
    for key, want in expected.items():
        assert got[key]["cost"] == approx(want["cost"])
        assert got[key]["records"] == want["records"]


def test_pareto_order_by_units_and_by_cost(month: dict[str, Any]) -> None:
    records, manager, operator = month["records"], month["manager"], month["operator"]
    units: dict[str, int] = defaultdict(int)
    for r in records:
        units[r["defect_code"]] += r["quantity"]
    want = sorted(units, key=lambda k: (-units[k], k))
    body = ok(
        operator.get(
            "/api/v1/defects/pareto", params={**MONTH, "by": "defect_code", "measure": "count"}
        )
    )
    assert [i["key"] for i in body["items"]] == want
    assert [i["value"] for i in body["items"]] == [units[k] for k in want]
    assert body["total"] == sum(units.values())
    assert body["items"][-1]["cumulative_share"] == approx(1.0)
    assert body["items"][0]["share"] == approx(units[want[0]] / sum(units.values()))
    assert (
        body["items"][0]["name"]
        == {
            "DIM-001": "Bore oversize",
            "DIM-002": "Length short",
            "SUR-001": "Scratch",
            "ASM-001": "Missing O-ring",
            "MAT-001": "Porosity",
        }[want[0]]
    )

    by_cost = totals(records, [V1, V2], lambda r: r["defect_code"])
    want_cost = sorted(by_cost, key=lambda k: (-by_cost[k]["cost"], k))
    assert (
        operator.get("/api/v1/defects/pareto", params={**MONTH, "measure": "cost"}).status_code
        == 403
    )
    body = ok(manager.get("/api/v1/defects/pareto", params={**MONTH, "measure": "cost"}))
    assert [i["key"] for i in body["items"]] == want_cost
    assert [i["value"] for i in body["items"]] == [approx(by_cost[k]["cost"]) for k in want_cost]
    assert body["currency"] == "EUR"

    top2 = ok(
        manager.get(
            "/api/v1/defects/pareto",
            params={**MONTH, "measure": "cost", "by": "category", "limit": 2},
        )
    )
    by_category = totals(records, [V1, V2], lambda r: CATEGORY[r["defect_code"]])
    ranked = sorted(by_category, key=lambda k: (-by_category[k]["cost"], k))
    assert [i["key"] for i in top2["items"]] == ranked[:2]
    assert top2["other"]["items"] == len(ranked) - 2
    assert top2["other"]["value"] == approx(sum(by_category[k]["cost"] for k in ranked[2:]))


def test_first_pass_yield_ppm_scrap_and_rework_rates(month: dict[str, Any]) -> None:
    records, units, operator = month["records"], month["units"], month["operator"]
    good: dict[Any, int] = defaultdict(int)
    bad: dict[Any, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for u in units:
        good[(week_of(parse(u["ts"])), u["line"])] += u["quantity"]
    for r in records:
        bad[(week_of(parse(r["ts"])), r["line"])][r["disposition"]] += r["quantity"]
    body = ok(
        operator.get("/api/v1/quality-rates", params={**MONTH, "bucket": "week", "by": "line"})
    )
    rows = {(datetime.fromisoformat(r["bucket"]), r["key"]): r for r in body["rows"]}
    assert set(rows) == set(good) | set(bad)
    for key, row in rows.items():
        nonconforming = sum(bad[key][d] for d in INTERNAL)
        total = good[key] + nonconforming
        assert row["good"] == good[key]
        assert row["nonconforming"] == nonconforming
        assert row["customer_returns"] == bad[key]["customer_return"]
        assert row["fpy"] == approx(good[key] / total)
        assert row["ppm"] == approx(1e6 * nonconforming / total)
        assert row["scrap_rate"] == approx(bad[key]["scrap"] / total)
        assert row["rework_rate"] == approx((bad[key]["rework"] + bad[key]["repair"]) / total)
    month_total = ok(
        operator.get("/api/v1/quality-rates", params={**MONTH, "bucket": "month", "by": "site"})
    )
    [site] = month_total["rows"]
    all_good = sum(u["quantity"] for u in units)
    all_bad = sum(r["quantity"] for r in records if r["disposition"] in INTERNAL)
    assert site["key"] == "plant1"
    assert site["fpy"] == approx(all_good / (all_good + all_bad))


def test_cost_model_change_mid_month_costs_each_side_at_its_rate(
    month: dict[str, Any], live: LiveServer
) -> None:
    manager = month["manager"]
    boundary = ok(manager.get("/api/v1/defects", params={**MONTH, "lot": ["LOT-B1", "LOT-B2"]}))
    assert [(parse(r["ts"]), r["cost"]) for r in boundary] == [
        (parse("2026-03-15T23:59:59Z"), BOUNDARY_COSTS[0]),
        (parse("2026-03-16T00:00:00Z"), BOUNDARY_COSTS[1]),
    ]
    models = ok(manager.get("/api/v1/cost-models", params={"site": "plant1"}))
    assert [(m["valid_from"], m["valid_to"]) for m in models] == [
        ("2026-03-01", "2026-03-16"),
        ("2026-03-16", None),
    ]
    records = month["records"]
    halves = totals(records, [V1, V2], lambda r: parse(r["ts"]) >= parse("2026-03-16T00:00:00Z"))
    first = cost_rows(manager, **{"to": "2026-03-16T00:00:00Z", "bucket": "month"})
    second = cost_rows(manager, **{"from": "2026-03-16T00:00:00Z", "bucket": "month"})
    assert sum(r["cost"] for r in first["rows"]) == approx(halves[False]["cost"])
    assert sum(r["cost"] for r in second["rows"]) == approx(halves[True]["cost"])
    # a member of staff without the manager role sees no cost
    hidden = ok(month["operator"].get("/api/v1/defects", params={**MONTH, "lot": "LOT-B1"}))
    assert hidden[0]["cost"] is None and hidden[0]["quantity"] == 2


def test_a_version_added_afterwards_recosts_history_and_its_deletion_undoes_it(
    plant: httpx.Client, live: LiveServer
) -> None:
    manager = live.client("manager", "maria")
    ok(manager.post("/api/v1/cost-models", json=V1), 201)
    records = defects(seed=11, n=200)
    assert post_defects(live.client("operator"), records)["accepted"] == len(records)
    weekly = lambda r: (week_of(parse(r["ts"])), r["line"])  # noqa: E731

    def check(versions: list[dict[str, Any]]) -> None:
        expected = totals(records, versions, weekly)
        body = cost_rows(manager, bucket="week", by="line")
        got = {(datetime.fromisoformat(r["bucket"]), r["key"]): r["cost"] for r in body["rows"]}
        assert got == {k: approx(v["cost"]) for k, v in expected.items()}

    check([V1])
    created = ok(manager.post("/api/v1/cost-models", json=V2), 201)
    after_change = [r for r in records if parse(r["ts"]) >= parse("2026-03-16T00:00:00Z")]
    assert created["recosted"] == len(after_change)
    assert created["valid_to"] is None
    check([V1, V2])
    # fix a rate of V2: its records are re-costed
    fixed = {**V2, "labour_rate": 75.0}
    body = {k: v for k, v in fixed.items() if k not in ("site", "valid_from")}
    ok(manager.put(f"/api/v1/cost-models/{created['id']}", json=body))
    check([V1, fixed])
    assert manager.delete(f"/api/v1/cost-models/{created['id']}").status_code == 204
    check([V1])
    audit = ok(live.client("admin").get("/api/v1/audit", params={"entity": "cost_model"}))
    assert {a["action"] for a in audit} >= {"create", "update", "delete"}


def test_records_without_rates_are_counted_as_uncosted(
    plant: httpx.Client, live: LiveServer
) -> None:
    manager = live.client("manager", "maria")
    ok(manager.post("/api/v1/cost-models", json={**V1, "products": [V1["products"][0]]}), 201)
    early = {
        "ts": iso(parse("2026-02-27T10:00:00Z")),
        "line": "L1",
        "product": "P-100",
        "defect_code": "SUR-001",
        "disposition": "scrap",
        "quantity": 3,
    }
    late_known = {**early, "ts": "2026-03-02T10:00:00Z"}
    late_unknown = {**early, "ts": "2026-03-02T11:00:00Z", "product": "P-777"}
    post_defects(manager, [early, late_known, late_unknown])
    body = ok(
        manager.get(
            "/api/v1/quality-cost",
            params={"from": "2026-02-23T00:00:00Z", "to": "2026-03-09T00:00:00Z", "bucket": "week"},
        )
    )
    rows = {r["bucket"][:10]: r for r in body["rows"]}
    assert rows["2026-02-23"]["uncosted"] == 1 and rows["2026-02-23"]["cost"] == 0.0
    assert rows["2026-03-02"]["uncosted"] == 1
    assert rows["2026-03-02"]["cost"] == approx(3 * 40.0)  # P-100 has no station: unit cost
    assert rows["2026-03-02"]["currency"] == "EUR"


def test_top_movers_against_the_previous_period(month: dict[str, Any]) -> None:
    records, manager = month["records"], month["manager"]
    current = (parse("2026-03-17T00:00:00Z"), parse("2026-04-01T00:00:00Z"))
    previous = (parse("2026-03-02T00:00:00Z"), current[0])

    def sums(lo: datetime, hi: datetime) -> dict[str, float]:
        chosen = [r for r in records if lo <= parse(r["ts"]) < hi]
        return {k: v["cost"] for k, v in totals(chosen, [V1, V2], lambda r: r["line"]).items()}

    now, before = sums(*current), sums(*previous)
    body = ok(
        manager.get(
            "/api/v1/quality-cost/movers",
            params={
                "from": iso(current[0]),
                "to": iso(current[1]),
                "by": "line",
                "measure": "cost",
            },
        )
    )
    assert body["previous"] == {"from": "2026-03-02T00:00:00Z", "to": "2026-03-17T00:00:00Z"}
    want = sorted(now, key=lambda k: -abs(now[k] - before.get(k, 0.0)))
    assert [i["key"] for i in body["items"]] == want
    for item in body["items"]:
        assert item["current"] == approx(now[item["key"]])
        assert item["previous"] == approx(before[item["key"]])
        assert item["delta"] == approx(now[item["key"]] - before[item["key"]])
        assert item["change"] == approx(item["delta"] / before[item["key"]])


QUERY_ROUTES = (
    "/api/v1/defects",
    "/api/v1/defects/pareto",
    "/api/v1/defects/spc-warnings",
    "/api/v1/quality-cost",
    "/api/v1/quality-cost/movers",
    "/api/v1/quality-rates",
)


def test_windows_at_the_ends_of_the_calendar_are_a_422_naming_the_field(
    manager: httpx.Client,
) -> None:
    """A `to` in the first days of year 1 without `from` was a 500: the default `from`
    (to − 30 days) was computed before the range check and overflowed."""
    cases = [
        ({"to": "0001-01-01T01:14:09Z"}, "to"),
        ({"to": "0001-01-18T00:25:01Z", "format": "xlsx"}, "to"),
        ({"from": "0001-01-01T00:00:00Z"}, "from"),
        ({"from": "0001-01-01T00:00:00Z", "to": "0001-01-02T00:00:00Z"}, "from"),
        ({"to": "9999-12-31T23:59:59Z"}, "to"),
        ({"to": "1970-01-10T00:00:00Z"}, "from"),  # the default from would precede 1970
    ]
    for path in QUERY_ROUTES:
        for params, field in cases:
            response = manager.get(path, params=params)
            assert response.status_code == 422, (path, params, response.text)
            assert response.json()["field"] == field, (path, params, response.text)
