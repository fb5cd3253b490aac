"""The ingest contract, record by record, over real HTTP on both stores; afterwards the
database holds exactly what was accepted."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

import httpx
from service_helpers import LiveServer, create_characteristic, ingest, records


def stored(live: LiveServer, key: str) -> list[tuple[str, float]]:
    ctx = live.ctx
    with ctx.store.transaction(readonly=True) as tx:
        char = ctx.store.repo.get_characteristic(tx, key)
        return [(p.ts.isoformat(), p.value) for p in ctx.store.repo.window(tx, char.id, None, None)]


def post_raw(api: httpx.Client, body: str) -> httpx.Response:
    return api.post(
        "/api/v1/measurements", content=body, headers={"content-type": "application/json"}
    )


def test_contract_example_is_accepted(live: LiveServer, api: httpx.Client) -> None:
    create_characteristic(api, key="line1.op20.bore", chart="imr")
    ts = (datetime.now(UTC) - timedelta(minutes=1)).isoformat().replace("+00:00", "Z")
    answer = ingest(
        api,
        [
            {
                "characteristic": "line1.op20.bore",
                "ts": ts,
                "value": 74.012,
                "subgroup": "s1",
                "lot": "L42",
                "serial": "SN1",
                "source": "plc-7",
                "seq": 123,
            }
        ],
    )
    assert answer == {"accepted": 1, "duplicates": 0, "rejected": []}
    rows = api.get("/api/v1/characteristics/line1.op20.bore/measurements").json()
    assert len(rows) == 1
    assert rows[0]["value"] == 74.012
    assert rows[0]["lot"] == "L42"
    assert datetime.fromisoformat(rows[0]["ts"].replace("Z", "+00:00")) == datetime.fromisoformat(
        ts.replace("Z", "+00:00")
    )


def test_each_bad_record_gets_its_reason_and_good_ones_are_stored(
    live: LiveServer, api: httpx.Client
) -> None:
    create_characteristic(api, key="k", chart="imr")
    now = datetime.now(UTC)
    good = (now - timedelta(seconds=10)).isoformat()
    recent = (now - timedelta(seconds=5)).isoformat()
    body = (
        '{"measurements": ['
        f'{{"characteristic": "k", "ts": "{good}", "value": 1.5}},'
        f'{{"characteristic": "k", "ts": "{good}", "value": NaN}},'
        f'{{"characteristic": "k", "ts": "{good}", "value": Infinity}},'
        f'{{"characteristic": "k", "ts": "{good}", "value": -1e999}},'
        f'{{"characteristic": "k", "ts": "{good}", "value": "1.5"}},'
        f'{{"characteristic": "nope", "ts": "{good}", "value": 1.0}},'
        f'{{"characteristic": "k", "ts": "2026-11-26T10:00:00", "value": 2.0}},'
        f'{{"characteristic": "k", "ts": "{(now + timedelta(days=2)).isoformat()}", "value": 2.5}},'
        f'{{"characteristic": "k", "ts": "yesterday", "value": 3.0}},'
        f'{{"characteristic": "k", "ts": "{good}", "value": true}},'
        f'{{"characteristic": "k", "value": 4.0}},'
        f'{{"characteristic": "k", "ts": "{good}", "value": 5.0, "seq": "x"}},'
        '"not an object",'
        f'{{"characteristic": "k", "ts": "{recent}", "value": 6.5}}'
        "]}"
    )
    response = post_raw(api, body)
    assert response.status_code == 200
    answer = response.json()
    assert answer["accepted"] == 2
    assert answer["duplicates"] == 0
    reasons = {r["index"]: r["error"] for r in answer["rejected"]}
    assert sorted(reasons) == list(range(1, 13))
    assert "NaN" in reasons[1]
    assert "infinite" in reasons[2] and "infinite" in reasons[3]
    assert "string" in reasons[4]
    assert reasons[5] == "unknown characteristic 'nope'"
    assert "time zone" in reasons[6]
    assert "future" in reasons[7]
    assert "ISO 8601" in reasons[8]
    assert "boolean" in reasons[9]
    assert "ts is required" in reasons[10]
    assert "seq" in reasons[11]
    assert "object" in reasons[12]
    assert sorted(v for _, v in stored(live, "k")) == [1.5, 6.5]


def test_a_duplicate_batch_sent_twice_is_stored_once(live: LiveServer, api: httpx.Client) -> None:
    create_characteristic(api, key="k", chart="imr")
    with_seq = records("k", [1.0, 2.0, 3.0], source="plc-1")
    for i, r in enumerate(with_seq):
        r["seq"] = i
    without_seq = records("k", [4.0, 5.0], start=datetime(2026, 2, 1, tzinfo=UTC))
    batch = with_seq + without_seq
    assert ingest(api, batch) == {"accepted": 5, "duplicates": 0, "rejected": []}
    assert ingest(api, batch) == {"accepted": 0, "duplicates": 5, "rejected": []}
    # the same seq from another source is a different record; the same (ts, value) is not
    other = [{**with_seq[0], "source": "plc-2"}, {**without_seq[0], "lot": "L9"}]
    assert ingest(api, other) == {"accepted": 1, "duplicates": 1, "rejected": []}
    # duplicates inside one batch
    inner = records("k", [7.0, 7.0], start=datetime(2026, 3, 1, tzinfo=UTC))
    inner[1]["ts"] = inner[0]["ts"]
    assert ingest(api, inner) == {"accepted": 1, "duplicates": 1, "rejected": []}
    assert len(stored(live, "k")) == 7


def test_half_bad_batch_stores_exactly_the_good_half(live: LiveServer, api: httpx.Client) -> None:
    create_characteristic(api, key="k", chart="imr")
    batch = records("k", [float(i) for i in range(200)])
    for i in range(0, 200, 2):
        batch[i]["value"] = "bad"
    answer = ingest(api, batch)
    assert answer["accepted"] == 100
    assert [r["index"] for r in answer["rejected"]] == list(range(0, 200, 2))
    assert sorted(v for _, v in stored(live, "k")) == [float(i) for i in range(1, 200, 2)]


def test_100000_record_batch(live: LiveServer, api: httpx.Client) -> None:
    for i in range(10):
        create_characteristic(api, key=f"k{i}", chart="imr")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    batch = [
        {
            "characteristic": f"k{i % 10}",
            "ts": (start + timedelta(milliseconds=i)).isoformat(),
            "value": math.sin(i),
            "source": "bulk",
            "seq": i,
        }
        for i in range(100_000)
    ]
    answer = ingest(api, batch)
    assert answer == {"accepted": 100_000, "duplicates": 0, "rejected": []}
    with live.ctx.store.transaction(readonly=True) as tx:
        assert live.ctx.store.repo.count_measurements(tx) == 100_000
    again = ingest(api, batch[:1000])
    assert again["duplicates"] == 1000


def test_malformed_bodies_are_422_not_500(api: httpx.Client) -> None:
    for body, field in (
        ("{", "body"),
        ("[]", "measurements"),
        ('{"measurements": 3}', "measurements"),
        ('{"other": []}', "measurements"),
    ):
        response = post_raw(api, body)
        assert response.status_code == 422, body
        assert response.json()["field"] == field
    assert ingest(api, []) == {"accepted": 0, "duplicates": 0, "rejected": []}


def test_attribute_counts_are_checked(api: httpx.Client) -> None:
    create_characteristic(api, key="p1", chart="p", subgroup_size=50)
    answer = ingest(api, records("p1", [3, 51, 2.5, -1, 50]))
    assert answer["accepted"] == 2
    assert [r["index"] for r in answer["rejected"]] == [1, 2, 3]
    assert "sample size 50" in answer["rejected"][0]["error"]


def test_csv_upload_answers_like_json(live: LiveServer, api: httpx.Client) -> None:
    create_characteristic(api, key="k", chart="imr")
    csv = (
        "characteristic,ts,value,lot\n"
        "k,2026-01-01T00:00:00Z,1.5,L1\n"
        "k,2026-01-01T00:00:01Z,abc,L1\n"
        "k,2026-01-01T00:00:02Z,2.5,L2\n"
        "k,2026-01-01T00:00:02Z,2.5,L2\n"
    )
    response = api.post(
        "/api/v1/measurements.csv", content=csv, headers={"content-type": "text/csv"}
    )
    assert response.status_code == 200
    assert response.json() == {
        "accepted": 2,
        "duplicates": 1,
        "rejected": [{"index": 1, "error": "value must be a JSON number, not a string"}],
    }
    bad = api.post("/api/v1/measurements.csv", content="a,b\n1,2\n")
    assert bad.status_code == 422
    assert "characteristic" in bad.json()["detail"]
    # Windows line ends and a stray NUL byte: 200 or a 422 naming the body, never a 500
    crlf = api.post(
        "/api/v1/measurements.csv", content="characteristic,ts,value\r\n\rk,x\x00,1\r\n"
    )
    assert crlf.status_code in (200, 422), crlf.text
    assert sorted(v for _, v in stored(live, "k")) == [1.5, 2.5]


def test_metrics_count_ingest(live: LiveServer, api: httpx.Client) -> None:
    create_characteristic(api, key="k", chart="imr")
    ingest(api, records("k", [1.0, 2.0]))
    post_raw(api, json.dumps({"measurements": [{"characteristic": "x", "ts": "t", "value": 1}]}))
    text = api.get("/metrics").text
    assert 'linewatch_measurements_total{outcome="accepted"} 2.0' in text
    assert 'linewatch_measurements_total{outcome="rejected"} 1.0' in text
    assert "linewatch_evaluation_seconds_count 1.0" in text


def test_gzip_bodies_are_inflated_as_the_collector_sends_them(
    live: LiveServer, api: httpx.Client
) -> None:
    import gzip

    create_characteristic(api, key="gz", chart="imr")
    ts = (datetime.now(UTC) - timedelta(seconds=5)).isoformat()
    batch = {
        "measurements": [
            {"characteristic": "gz", "ts": ts, "value": 1.5, "source": "edge", "seq": 2**53 + 7},
            {"characteristic": "gz", "ts": ts, "value": 2.5, "source": "edge", "seq": 2**53 + 8,
             "quality": "uncertain"},
        ]
    }  # fmt: skip
    headers = {"content-type": "application/json", "content-encoding": "gzip"}
    body = gzip.compress(json.dumps(batch).encode())
    response = api.post("/api/v1/measurements", content=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": 2, "duplicates": 0, "rejected": []}
    again = api.post("/api/v1/measurements", content=body, headers=headers)
    assert again.json() == {"accepted": 0, "duplicates": 2, "rejected": []}
    assert [v for _, v in stored(live, "gz")] == [1.5, 2.5]

    broken = api.post("/api/v1/measurements", content=b"not gzip", headers=headers)
    assert broken.status_code == 422
    assert "gzip" in broken.json()["detail"]
    brotli = api.post(
        "/api/v1/measurements", content=b"{}", headers={**headers, "content-encoding": "br"}
    )
    assert brotli.status_code == 415
