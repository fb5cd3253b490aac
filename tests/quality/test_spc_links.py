"""Did the control chart warn before the defect? Alarms on the same line or lot, in a window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from quality_helpers import LiveServer, ok, post_defects

ALARM_AT = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)


def _chart_with_an_alarm(api: httpx.Client) -> set[int]:
    ok(
        api.post(
            "/api/v1/characteristics",
            json={"key": "L1.op20.bore", "name": "Bore", "chart": "imr", "station": "L1.op20"},
        ),
        201,
    )
    version = ok(
        api.post(
            "/api/v1/characteristics/L1.op20.bore/limits", json={"center": 10.0, "sigma": 0.1}
        ),
        201,
    )["version"]
    ok(api.post(f"/api/v1/characteristics/L1.op20.bore/limits/{version}/approve"))
    values = [10.0, 10.05, 9.95, 10.0, 11.0]  # the last one is beyond 3σ: WE1
    start = ALARM_AT - timedelta(minutes=len(values) - 1)
    batch = [
        {
            "characteristic": "L1.op20.bore",
            "ts": (start + timedelta(minutes=i)).isoformat(),
            "value": v,
            "lot": "LOT-7",
        }
        for i, v in enumerate(values)
    ]
    assert ok(api.post("/api/v1/measurements", json={"measurements": batch}))["accepted"] == 5
    alarms = ok(api.get("/api/v1/alarms", params={"characteristic": "L1.op20.bore"}))
    assert {a["rule"] for a in alarms} == {"WE1"}  # the point (X) and its moving range (MR)
    return {int(a["id"]) for a in alarms}


def test_alarms_that_preceded_a_defect_by_line_and_by_lot(
    plant: httpx.Client, live: LiveServer
) -> None:
    alarm_ids = _chart_with_an_alarm(plant)
    operator = live.client("operator")
    base = {"product": "P-100", "defect_code": "DIM-001", "disposition": "scrap"}
    two_hours = (ALARM_AT + timedelta(hours=2)).isoformat()
    ids = post_defects(
        operator,
        [
            {**base, "ts": two_hours, "line": "L1", "lot": "LOT-7"},
            {**base, "ts": two_hours, "line": "L2", "lot": "LOT-7"},
            {**base, "ts": two_hours, "line": "L2", "lot": "LOT-8"},
            {**base, "ts": (ALARM_AT + timedelta(hours=50)).isoformat(), "line": "L1"},
            {
                **base,
                "ts": (ALARM_AT - timedelta(hours=1)).isoformat(),
                "line": "L1",
                "lot": "LOT-7",
            },
        ],
    )["ids"]

    def links(defect_id: int, hours: float = 24.0) -> dict:
        return ok(
            operator.get(
                f"/api/v1/defects/{defect_id}/spc-alarms",  # type: ignore[no-any-return]
                params={"window_hours": hours},
            )
        )

    both = links(ids[0])
    assert both["warned"] is True
    assert {a["alarm_id"] for a in both["alarms"]} == alarm_ids
    for link in both["alarms"]:
        assert (link["rule"], link["characteristic"]) == ("WE1", "L1.op20.bore")
        assert sorted(link["match"]) == ["line", "lot"]
        assert link["lead_seconds"] == 7200.0
    by_lot = links(ids[1])
    assert {a["alarm_id"] for a in by_lot["alarms"]} == alarm_ids
    assert all(a["match"] == ["lot"] for a in by_lot["alarms"])
    assert links(ids[2]) == {**links(ids[2]), "warned": False, "alarms": []}
    assert links(ids[3])["alarms"] == []  # 50 h later: outside a 24 h window
    assert [a["match"] for a in links(ids[3], hours=72)["alarms"]] == [["line"]] * len(alarm_ids)
    assert links(ids[4])["warned"] is False  # the defect came first
    assert operator.get("/api/v1/defects/99999/spc-alarms").status_code == 404


def test_share_of_records_an_alarm_preceded_per_line(plant: httpx.Client, live: LiveServer) -> None:
    _chart_with_an_alarm(plant)
    operator = live.client("operator")
    base = {"product": "P-100", "defect_code": "DIM-001", "disposition": "scrap"}
    at = lambda hours: (ALARM_AT + timedelta(hours=hours)).isoformat()  # noqa: E731
    post_defects(
        operator,
        [
            {**base, "ts": at(1), "line": "L1"},  # line, 1 h after: warned
            {**base, "ts": at(30), "line": "L1"},  # 30 h after: not within 24 h
            {**base, "ts": at(-2), "line": "L1", "lot": "LOT-7"},  # before the alarm
            {**base, "ts": at(3), "line": "L2", "lot": "LOT-7"},  # lot: warned
            {**base, "ts": at(3), "line": "L2", "lot": "LOT-9"},
            {**base, "ts": at(4), "line": "L2"},
        ],
    )
    params = {"from": "2026-03-01T00:00:00Z", "to": "2026-03-05T00:00:00Z"}
    body = ok(operator.get("/api/v1/defects/spc-warnings", params=params))
    assert [(r["line"], r["records"], r["warned"]) for r in body["rows"]] == [
        ("L1", 3, 1),
        ("L2", 3, 1),
    ]
    assert body["rows"][0]["share"] == 1 / 3
    wide = ok(
        operator.get(
            "/api/v1/defects/spc-warnings", params={**params, "window_hours": 48, "line": "L1"}
        )
    )
    assert [(r["line"], r["warned"]) for r in wide["rows"]] == [("L1", 2)]
    exported = operator.get("/api/v1/defects/spc-warnings", params={**params, "format": "csv"})
    assert exported.text.splitlines()[0] == "line,records,warned,share"
    # the per-record answer agrees with the summary, record by record
    records = ok(operator.get("/api/v1/defects", params=params))
    warned = [ok(operator.get(f"/api/v1/defects/{r['id']}/spc-alarms"))["warned"] for r in records]
    assert sum(warned) == 2
