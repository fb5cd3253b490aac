"""Live evaluation, limits and alarms over real HTTP on both stores.

The strongest check: the violations the service stores while data arrives in batches of random
sizes equal, point for point, those of the batch `spc.chart` on the whole series with the same
limits (streaming equals batch)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np
import pytest
from service_helpers import LiveServer, approve_known, create_characteristic, ingest, records

import spc

START = datetime(2026, 1, 1, tzinfo=UTC)


def stored_violations(api: httpx.Client, key: str) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for v in api.get("/api/v1/violations", params={"characteristic": key}).json():
        name = v["rule"] if v["series"] == "stat" else f"dispersion:{v['rule']}"
        found.setdefault(v["point_no"], []).append(name)
    return {k: sorted(v) for k, v in found.items()}


def send_in_random_batches(api: httpx.Client, batch: list[dict[str, Any]], seed: int) -> None:
    rng = random.Random(seed)
    i = 0
    while i < len(batch):
        size = rng.randint(1, 40)
        answer = ingest(api, batch[i : i + size])
        assert answer["accepted"] == len(batch[i : i + size])
        i += size


def expected(result: Any) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for i, rules in enumerate(result.violations):
        if rules:
            found.setdefault(i, []).extend(rules)
    if result.dispersion is not None:
        offset = len(result.violations) - len(result.dispersion.violations)
        for j, rules in enumerate(result.dispersion.violations):
            if rules:
                found.setdefault(j + offset, []).extend(f"dispersion:{r}" for r in rules)
    return {k: sorted(v) for k, v in found.items()}


@pytest.mark.parametrize(
    ("chart", "size", "rules"),
    [("imr", 1, "nelson"), ("xbar-r", 5, "western-electric"), ("ewma", 1, "western-electric")],
)
def test_streaming_violations_equal_the_batch_chart(
    api: httpx.Client, chart: str, size: int, rules: str
) -> None:
    create_characteristic(api, key="k", chart=chart, subgroup_size=size, rules=rules)
    approve_known(api, "k", 10.0, 1.0)
    rng = np.random.default_rng(7)
    values = np.concatenate([rng.normal(10, 1, 60 * size), rng.normal(11.5, 1, 60 * size)])
    send_in_random_batches(api, records("k", values.tolist()), seed=3)
    with_limits = api.get("/api/v1/characteristics/k/limits/1").json()["limits"]
    limits = spc.Limits.from_dict(with_limits)
    data = values.reshape(-1, size).tolist() if size > 1 else values.tolist()
    batch = spc.chart(chart, data, limits=limits, rules=rules)
    want = expected(batch)
    assert want, "the shifted stream must produce violations"
    assert stored_violations(api, "k") == want


def test_attribute_chart_streaming_equals_batch(api: httpx.Client) -> None:
    create_characteristic(api, key="p", chart="p", subgroup_size=100)
    approve_known(api, "p", 0.05, (0.05 * 0.95) ** 0.5)
    rng = np.random.default_rng(3)
    counts = np.concatenate([rng.binomial(100, 0.05, 50), rng.binomial(100, 0.12, 20)])
    send_in_random_batches(api, records("p", counts.astype(float).tolist()), seed=5)
    limits = spc.Limits.from_dict(api.get("/api/v1/characteristics/p/limits/1").json()["limits"])
    batch = spc.chart("p", counts.tolist(), sizes=[100] * len(counts), limits=limits)
    assert stored_violations(api, "p") == expected(batch)
    assert expected(batch)


def test_limits_from_a_window_then_approval_judges_new_points_only(api: httpx.Client) -> None:
    create_characteristic(api, key="k", chart="imr")
    rng = np.random.default_rng(11)
    phase1 = rng.normal(5.0, 0.2, 30).tolist()
    ingest(api, records("k", phase1))
    chart = api.get("/api/v1/characteristics/k/chart").json()
    assert chart["rules"] == "none" and all(p["limit_version"] is None for p in chart["points"])
    response = api.post(
        "/api/v1/characteristics/k/limits",
        json={"from": START.isoformat(), "to": (START + timedelta(seconds=30)).isoformat()},
    )
    assert response.status_code == 201, response.text
    proposal = response.json()
    reference = spc.chart("imr", phase1)
    assert proposal["version"] == 1
    assert proposal["center"] == pytest.approx(reference.center, rel=1e-12)
    assert proposal["sigma"] == pytest.approx(reference.sigma, rel=1e-12)
    assert proposal["lcl"] == pytest.approx(reference.center - 3 * reference.sigma)
    assert proposal["ucl"] == pytest.approx(reference.center + 3 * reference.sigma)
    assert proposal["current"] is False and proposal["phase1"]["points"] == 30
    # nothing is judged before approval
    ingest(api, records("k", [100.0], start=START + timedelta(minutes=5)))
    assert stored_violations(api, "k") == {}
    operator = api  # admin here; roles are covered in test_service_api
    approved = operator.post("/api/v1/characteristics/k/limits/1/approve", json={"reason": "ok"})
    assert approved.status_code == 200 and approved.json()["current"] is True
    assert api.post("/api/v1/characteristics/k/limits/1/approve").status_code == 409
    ingest(api, records("k", [100.0], start=START + timedelta(minutes=6)))
    assert stored_violations(api, "k") == {0: ["WE1"]}
    verified = api.get("/api/v1/characteristics/k/limits/1", params={"verify": True}).json()
    assert verified["reproducible"] is True
    history = api.get("/api/v1/characteristics/k/limits").json()
    assert [v["version"] for v in history] == [1]
    assert api.get("/api/v1/characteristics/k").json()["current_limit_version"] == 1
    audit = api.get("/api/v1/audit", params={"entity": "limits"}).json()
    assert [a["action"] for a in audit] == ["approve", "propose"]


def test_iterative_exclusion_of_flagged_phase1_points(api: httpx.Client) -> None:
    create_characteristic(api, key="k", chart="imr")
    values = [10.0, 10.2, 9.9, 10.1, 9.8, 10.0, 10.3, 9.7, 10.1, 9.9] * 3
    values[12] = 14.0
    ingest(api, records("k", values))
    response = api.post(
        "/api/v1/characteristics/k/limits",
        json={"from": START.isoformat(), "exclude_flagged": True},
    )
    assert response.status_code == 201
    body = response.json()
    excluded = body["phase1"]["excluded"]
    assert [e["point"] for e in excluded if e["iteration"] == 1][:1] != []
    assert any("WE1" in e["rules"] for e in excluded)
    kept = [v for i, v in enumerate(values) if i not in {e["point"] for e in excluded}]
    assert body["center"] == pytest.approx(spc.chart("imr", kept).center, rel=1e-12)
    assert body["phase1"]["iterations"] >= 2
    assert api.get("/api/v1/characteristics/k/limits/1?verify=true").json()["reproducible"]


def test_limit_requests_are_validated(api: httpx.Client) -> None:
    create_characteristic(api, key="k", chart="imr")
    nothing = api.post("/api/v1/characteristics/k/limits", json={"from": START.isoformat()})
    assert nothing.status_code == 422 and "phase I" in nothing.json()["detail"]
    both = api.post(
        "/api/v1/characteristics/k/limits", json={"center": 1.0, "from": START.isoformat()}
    )
    assert both.status_code == 422
    half = api.post("/api/v1/characteristics/k/limits", json={"center": 1.0})
    assert half.status_code == 422
    assert (
        api.post("/api/v1/characteristics/nope/limits", json={"center": 1, "sigma": 1}).status_code
        == 404
    )
    assert api.post("/api/v1/characteristics/k/limits/9/approve").status_code == 404


def test_alarm_lifecycle_with_outbox(live: LiveServer, api: httpx.Client) -> None:
    create_characteristic(api, key="k", chart="imr", name="Bore", unit="mm")
    approve_known(api, "k", 10.0, 1.0)
    ingest(api, records("k", [14.0, 10.0, 14.5, 15.0]))
    alarms = api.get("/api/v1/alarms", params={"state": "open", "characteristic": "k"}).json()
    by_rule = {a["rule"]: a for a in alarms if a["series"] == "stat"}
    assert by_rule["WE1"]["hits"] == 3
    assert set(by_rule["WE1"]) >= {"id", "characteristic", "rule", "opened_at", "state", "hits"}
    alarm_id = by_rule["WE1"]["id"]
    operator = live.client("operator")
    live.ctx.strict_codes = True  # as `[alarm_codes] strict = true` in linewatch.toml
    bad = operator.post(
        f"/api/v1/alarms/{alarm_id}/acknowledge", json={"cause": "gremlins", "action": "adjusted"}
    )
    assert bad.status_code == 422 and bad.json()["field"] == "cause"
    live.ctx.strict_codes = False
    codes = operator.get("/api/v1/alarm-codes").json()
    ack = operator.post(
        f"/api/v1/alarms/{alarm_id}/acknowledge",
        json={"cause": "Tool wear", "action": codes["actions"][0], "note": "insert worn"},
    )
    assert ack.status_code == 200
    assert ack.json()["cause"] == "tool-wear"
    assert (
        ack.json()["state"] == "acknowledged" and ack.json()["acknowledged_by"] == "operator-user"
    )
    again = operator.post(
        f"/api/v1/alarms/{alarm_id}/acknowledge",
        json={"cause": codes["causes"][0], "action": codes["actions"][0]},
    )
    assert again.status_code == 409
    # a further hit attaches to the acknowledged alarm, no new one
    ingest(api, records("k", [16.0], start=START + timedelta(minutes=1)))
    assert api.get(f"/api/v1/alarms/{alarm_id}").json()["hits"] == 4
    assert operator.post(f"/api/v1/alarms/{alarm_id}/close").status_code == 403
    closed = api.post(f"/api/v1/alarms/{alarm_id}/close", json={"note": "fixed"})
    assert closed.status_code == 200 and closed.json()["state"] == "closed"
    ingest(api, records("k", [17.0], start=START + timedelta(minutes=2)))
    fresh = api.get("/api/v1/alarms", params={"state": "open", "characteristic": "k"}).json()
    assert [a["id"] for a in fresh if a["rule"] == "WE1"] != [alarm_id]
    # free text is kept as written when the code lists are not strict (the default)
    fresh_id = next(a["id"] for a in fresh if a["rule"] == "WE1")
    free = operator.post(
        f"/api/v1/alarms/{fresh_id}/acknowledge",
        json={"cause": "coolant concentration low", "action": "topped up", "note": "night shift"},
    )
    assert free.status_code == 200, free.text
    assert (free.json()["cause"], free.json()["action"]) == (
        "coolant concentration low",
        "topped up",
    )
    stats = api.get("/api/v1/alarms/stats", params={"characteristic": "k"}).json()
    assert stats["closed"] == 1 and stats["mean_time_to_acknowledge_seconds"] >= 0
    with live.ctx.store.transaction(readonly=True) as tx:
        rows = tx.fetchall(
            "SELECT event, payload FROM outbox WHERE alarm_id = ? ORDER BY id", [alarm_id]
        )
    events = [r["event"] for r in rows]
    assert events == [
        "alarm.opened",
        "alarm.hit",
        "alarm.hit",
        "alarm.acknowledged",
        "alarm.hit",
        "alarm.closed",
    ]
    payload = tx.load_json(rows[0]["payload"])
    assert payload["characteristic"] == {"key": "k", "name": "Bore", "unit": "mm"}
    assert payload["rule"] == "WE1" and payload["rule_text"].startswith("WE1")
    assert payload["stat"] == 14.0 and payload["center"] == 10.0
    assert payload["ucl"] == pytest.approx(13.0) and payload["chart"].endswith("/k/chart")
    ack_payload = tx.load_json(rows[3]["payload"])
    assert ack_payload["note"] == "insert worn"
    trail = api.get("/api/v1/audit", params={"entity": "alarm", "key": str(alarm_id)}).json()
    assert [a["action"] for a in trail] == ["close", "acknowledge", "open"]
    assert trail[1]["actor"] == "operator-user" and trail[2]["actor"] == "evaluator"


def test_chart_json_has_contract_fields_alarm_ids_and_downsampling(api: httpx.Client) -> None:
    create_characteristic(api, key="k", chart="xbar-r", subgroup_size=4, lsl=8.0, usl=12.0)
    approve_known(api, "k", 10.0, 1.0)
    rng = np.random.default_rng(5)
    values = rng.normal(10, 1, 400)
    values[200:204] = 14.0
    ingest(api, records("k", values.tolist(), lot="L1"))
    body = api.get("/api/v1/characteristics/k/chart").json()
    assert {"chart", "center", "sigma", "phase1", "rules", "points", "dispersion"} <= set(body)
    assert body["chart"] == "xbar-r" and body["center"] == 10.0
    assert len(body["points"]) == 100
    flagged = [p for p in body["points"] if p["violations"]]
    assert any(p["point_no"] == 50 and "WE1" in p["violations"] for p in flagged)
    for p in body["points"]:
        assert {
            "i",
            "n",
            "stat",
            "lcl",
            "ucl",
            "violations",
            "ts",
            "lot",
            "limit_version",
            "alarm_id",
        } <= set(p)
        assert (p["alarm_id"] is not None) == bool(p["violations"])
    assert body["points"][0]["stat"] == pytest.approx(float(np.mean(values[:4])))
    assert body["dispersion"]["chart"] == "r" and len(body["dispersion"]["points"]) == 100
    assert body["capability"]["n"] == 400
    small = api.get("/api/v1/characteristics/k/chart", params={"max_points": 20}).json()
    assert len(small["points"]) <= 20 + len(flagged)
    assert {p["point_no"] for p in flagged} <= {p["point_no"] for p in small["points"]}
    assert small["downsampled"] == {"points": 100, "returned": len(small["points"])}
    last = api.get("/api/v1/characteristics/k/chart", params={"limit": 10}).json()
    assert [p["point_no"] for p in last["points"]] == list(range(90, 100))
    window = api.get(
        "/api/v1/characteristics/k/chart",
        params={
            "from": (START + timedelta(seconds=40)).isoformat(),
            "to": (START + timedelta(seconds=80)).isoformat(),
        },
    ).json()
    assert [p["point_no"] for p in window["points"]] == list(range(10, 20))
    assert (
        api.get(
            "/api/v1/characteristics/k/chart",
            params={"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
        ).status_code
        == 422
    )


def test_capability_over_a_window(api: httpx.Client) -> None:
    create_characteristic(api, key="k", chart="imr", lsl=9.0, usl=11.0, target=10.0)
    approve_known(api, "k", 10.0, 0.25)
    rng = np.random.default_rng(9)
    values = rng.normal(10.05, 0.3, 200)
    ingest(api, records("k", values.tolist()))
    body = api.get("/api/v1/characteristics/k/capability").json()
    want = spc.capability(values, sigma_within=0.25, lsl=9.0, usl=11.0, target=10.0).to_dict()
    for index in ("n", "mean", "cp", "cpk", "pp", "ppk", "cpm"):
        assert body[index] == pytest.approx(want[index], rel=1e-9)
    assert body["sigma_source"] == "limit version 1"
    create_characteristic(api, key="nospec", chart="imr")
    assert api.get("/api/v1/characteristics/nospec/capability").status_code == 422


def test_auto_limits_after_k_subgroups(api: httpx.Client) -> None:
    create_characteristic(api, key="k", chart="imr", auto_limits_after=20)
    rng = np.random.default_rng(2)
    phase1 = rng.normal(3.0, 0.1, 20).tolist()
    ingest(api, records("k", phase1[:15]))
    assert api.get("/api/v1/characteristics/k").json()["current_limit_version"] is None
    ingest(api, records("k", phase1[15:], start=START + timedelta(seconds=15)))
    version = api.get("/api/v1/characteristics/k/limits/1").json()
    assert version["approved_by"] == "auto" and version["method"] == "auto"
    assert version["center"] == pytest.approx(spc.chart("imr", phase1).center, rel=1e-12)
    ingest(api, records("k", [9.0], start=START + timedelta(minutes=1)))
    assert stored_violations(api, "k") == {0: ["WE1"]}
    audit = api.get("/api/v1/audit", params={"entity": "limits"}).json()
    assert audit[0]["action"] == "auto-approve" and audit[0]["actor"] == "auto"


def test_subgroups_by_field(api: httpx.Client) -> None:
    create_characteristic(api, key="k", chart="xbar-s", subgroup_by="field", subgroup_size=1)
    approve_known(api, "k", 10.0, 1.0)
    batch = []
    for g, size in enumerate([3, 4, 2, 5]):
        for j in range(size):
            batch.append(
                {
                    "characteristic": "k",
                    "ts": (START + timedelta(seconds=10 * g + j)).isoformat(),
                    "value": 10.0 + j * 0.1 + (8.0 if g == 2 else 0.0),
                    "subgroup": f"S{g}",
                }
            )
    ingest(api, batch)
    points = api.get("/api/v1/characteristics/k/chart").json()["points"]
    # the last subgroup waits for the next label
    assert [p["n"] for p in points] == [3, 4, 2]
    assert points[2]["violations"] == ["WE1"]
    assert stored_violations(api, "k") == {2: ["WE1"]}


def test_concurrent_requests_are_merged_correctly(live: LiveServer, api: httpx.Client) -> None:
    import threading

    keys = [f"k{i}" for i in range(6)]
    for key in keys:
        create_characteristic(api, key=key, chart="imr")
        approve_known(api, key, 10.0, 1.0)
    rng = np.random.default_rng(21)
    series = {key: np.concatenate([rng.normal(10, 1, 100), rng.normal(12, 1, 60)]) for key in keys}
    answers: list[dict[str, Any]] = []

    def sender(key: str) -> None:
        client = live.client("operator", f"collector-{key}")
        data = records(key, series[key].tolist(), source=key)
        for i, r in enumerate(data):
            r["seq"] = i
        for start in range(0, len(data), 8):
            answers.append(ingest(client, data[start : start + 8]))
        answers.append(ingest(client, data[:8]))  # resent: duplicates

    threads = [threading.Thread(target=sender, args=(key,)) for key in keys]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sum(a["accepted"] for a in answers) == 6 * 160
    assert sum(a["duplicates"] for a in answers) == 6 * 8
    for key in keys:
        limits = spc.Limits.from_dict(
            api.get(f"/api/v1/characteristics/{key}/limits/1").json()["limits"]
        )
        want = expected(spc.chart("imr", series[key].tolist(), limits=limits))
        assert want and stored_violations(api, key) == want, key


def test_group_committer_isolates_a_failing_batch() -> None:
    import threading

    from service.group_commit import GroupCommitter

    calls: list[int] = []
    gate = threading.Event()

    def process(items: Any) -> list[int]:
        calls.append(len(items))
        gate.wait(5)
        if "bad" in items:
            raise ValueError("bad batch")
        return [len(i) for i in items]

    committer: GroupCommitter[str, int] = GroupCommitter(process)
    results: dict[str, Any] = {}

    def submit(item: str) -> None:
        try:
            results[item] = committer.submit(item)
        except ValueError as exc:
            results[item] = exc

    threads = [threading.Thread(target=submit, args=(item,)) for item in ("a", "bb", "bad", "cccc")]
    threads[0].start()
    while not calls:
        threading.Event().wait(0.001)
    for t in threads[1:]:
        t.start()
    import time

    deadline = time.monotonic() + 10
    while len(committer._queue) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    gate.set()
    for t in threads:
        t.join(5)
    assert results["a"] == 1 and results["bb"] == 2 and results["cccc"] == 4
    assert isinstance(results["bad"], ValueError)
    assert calls[0] == 1 and calls[1] == 3  # the three waiting batches were merged


@pytest.mark.parametrize("chart", ["imr", "cusum", "xbar-s"])
def test_chart_points_have_the_cli_contract_shape(api: httpx.Client, chart: str) -> None:
    size = 3 if chart == "xbar-s" else 1
    create_characteristic(api, key="k", chart=chart, subgroup_size=size)
    approve_known(api, "k", 10.0, 1.0)
    values = np.random.default_rng(4).normal(11.0, 1, 40 * size)
    ingest(api, records("k", values.tolist()))
    body = api.get("/api/v1/characteristics/k/chart").json()
    limits = spc.Limits.from_dict(api.get("/api/v1/characteristics/k/limits/1").json()["limits"])
    data = values.reshape(-1, size).tolist() if size > 1 else values.tolist()
    want = spc.chart(chart, data, limits=limits, rules="western-electric").to_dict()

    def same(ours: dict[str, Any], theirs: dict[str, Any]) -> None:
        for key, value in theirs.items():
            if isinstance(value, float):
                assert ours[key] == pytest.approx(value, rel=1e-12, abs=1e-12), key
            else:
                assert ours[key] == value, key

    assert len(body["points"]) == len(want["points"])
    for ours, theirs in zip(body["points"], want["points"], strict=True):
        same(ours, theirs)
    assert any(p["violations"] for p in body["points"])
    if "dispersion" in want:
        assert len(body["dispersion"]["points"]) == len(want["dispersion"]["points"])
        for ours, theirs in zip(
            body["dispersion"]["points"], want["dispersion"]["points"], strict=True
        ):
            same(ours, theirs)


def test_downsampling_keeps_extremes_and_every_flag() -> None:
    from service.chart_data import downsample_indices

    stats = np.sin(np.linspace(0, 20, 10_000))
    flagged = np.zeros(10_000, dtype=bool)
    flagged[[17, 4242, 9999]] = True
    keep = downsample_indices(stats, flagged, 200)
    assert len(keep) <= 203
    assert {17, 4242, 9999, 0} <= set(keep.tolist())
    assert stats[keep].max() == stats.max() and stats[keep].min() == stats.min()
    assert downsample_indices(stats[:50], flagged[:50], 200).tolist() == list(range(50))


def test_group_committer_leader_waits_for_announced_requests() -> None:
    """A request still parsing (announced) joins the group of one that was already queued;
    a withdrawn announcement or the linger limit lets the leader go."""
    import threading
    import time

    from service.group_commit import GroupCommitter

    groups: list[list[str]] = []
    committer: GroupCommitter[str, int] = GroupCommitter(
        lambda items: groups.append(list(items)) or [len(i) for i in items], linger=5.0
    )
    results: dict[str, int] = {}

    def submit(item: str, announced: bool) -> None:
        results[item] = committer.submit(item, announced=announced)

    committer.announce()  # "late" is still parsing
    first = threading.Thread(target=submit, args=("first", False))
    first.start()
    time.sleep(0.2)
    assert groups == []  # the leader is waiting for the announced request
    late = threading.Thread(target=submit, args=("late", True))
    late.start()
    first.join(5)
    late.join(5)
    assert groups == [["first", "late"]] and results == {"first": 5, "late": 4}

    committer.announce()
    started = time.monotonic()
    threading.Timer(0.1, committer.withdraw).start()
    assert committer.submit("alone") == 5
    assert time.monotonic() - started < 2.0  # released by the withdrawal, not the linger

    quick: GroupCommitter[str, int] = GroupCommitter(lambda items: [1] * len(items), linger=0.05)
    quick.announce()  # never arrives: the linger bounds the wait
    started = time.monotonic()
    assert quick.submit("x") == 1
    assert time.monotonic() - started < 1.0
