"""Pure helpers behind the screens: status, rates, MTTA, ordering, limits preview, spikes."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from dashboard import analysis
from dashboard.data import assemble_row, fingerprint, histogram_values


def test_status_light_priorities():
    assert analysis.status_of(True, 2) == "alarm"
    assert analysis.status_of(False, 1) == "alarm"
    assert analysis.status_of(False, 0) == "no_limits"
    assert analysis.status_of(True, 0, has_data=False) == "no_data"
    assert analysis.status_of(True, 0) == "ok"


def test_out_of_control_rate():
    pts = [{"violations": []}] * 7 + [{"violations": ["WE1"]}, {"violations": ["WE2", "WE3"]}, {}]
    assert analysis.out_of_control_rate(pts) == pytest.approx(0.2)
    assert analysis.out_of_control_rate([]) is None


def test_mean_time_to_acknowledge_ignores_unacknowledged():
    alarms = [
        {"opened_at": "2026-11-26T10:00:00Z", "acknowledged_at": "2026-11-26T10:02:00Z"},
        {"opened_at": "2026-11-26T11:00:00Z", "acknowledged_at": "2026-11-26T11:06:00+00:00"},
        {"opened_at": "2026-11-26T12:00:00Z", "acknowledged_at": None},
    ]
    assert analysis.mean_time_to_ack(alarms) == pytest.approx(240.0)
    assert analysis.mean_time_to_ack(alarms[2:]) is None


def test_alarms_sorted_open_oldest_first_then_acknowledged_then_closed():
    alarms = [
        {"id": 1, "state": "closed", "opened_at": "2026-11-26T09:00:00Z"},
        {"id": 2, "state": "open", "opened_at": "2026-11-26T12:00:00Z"},
        {"id": 3, "state": "acknowledged", "opened_at": "2026-11-26T08:00:00Z"},
        {"id": 4, "state": "open", "opened_at": "2026-11-26T10:00:00Z"},
        {"id": 5, "state": "acknowledged", "opened_at": "2026-11-26T11:00:00Z"},
    ]
    assert [a["id"] for a in analysis.sort_alarms(alarms)] == [4, 2, 5, 3, 1]


def test_group_by_line_and_station_uses_fields_then_key():
    chars = [
        {"key": "line2.op10.width"},
        {"key": "line1.op20.bore"},
        {"key": "line1.op10.depth"},
        {"key": "x", "line": "L9", "station": "S1"},
        {"key": "y", "line": "L9", "station": "L9.S0"},
    ]
    grouped = analysis.group_characteristics(chars)
    assert list(grouped) == ["L9", "line1", "line2"]
    assert list(grouped["line1"]) == ["op10", "op20"]
    assert list(grouped["L9"]) == ["S0", "S1"]  # the line's prefix is not repeated
    assert list(analysis.group_characteristics(chars, ["line2"])) == ["line2"]


def test_rejudge_flags_history_against_proposed_limits_with_spc_rules(chart_factory):
    chart = chart_factory(n=20, stat=lambda i: 10.0 if i != 15 else 10.9, dispersion=False)
    judged = analysis.rejudge(chart, center=10.0, sigma=0.5, rules="western-electric")
    # X-bar of n=5: sigma of the mean 0.5/sqrt(5) = 0.2236 -> UCL 10.671; 10.9 is beyond
    assert judged["points"][15]["violations"] == ["WE1"]
    assert judged["points"][15]["ucl"] == pytest.approx(10.0 + 3 * 0.5 / np.sqrt(5))
    assert sum(1 for p in judged["points"] if p["violations"]) == 1
    assert "dispersion" not in judged
    wide = analysis.rejudge(chart, center=10.0, sigma=1.0)
    assert analysis.flag_counts(wide["points"]) == (0, {})


def test_rejudge_runs_run_rules_over_the_whole_series(chart_factory):
    chart = chart_factory(n=12, kind="imr", stat=lambda i: 10.5, dispersion=False)
    judged = analysis.rejudge(chart, center=10.0, sigma=1.0, rules="western-electric")
    total, by_rule = analysis.flag_counts(judged["points"])
    assert by_rule["WE4"] == 5  # points 8..12 close a run of 8 on one side
    assert total == 5


def test_rejudge_clips_attribute_lcl_at_zero():
    chart = {"chart": "p", "points": [{"i": 0, "n": 20, "stat": 0.05}], "rules": "western-electric"}
    judged = analysis.rejudge(chart, center=0.05, sigma=(0.05 * 0.95) ** 0.5)
    assert judged["points"][0]["lcl"] == 0.0


def test_cost_spikes_robust_to_a_flat_series():
    rows = [
        {"period": f"2026-11-{d:02d}", "line": "line1", "scrap_cost": 100.0 + d % 3}
        for d in range(1, 15)
    ]
    rows.append(
        {"period": "2026-11-15", "line": "line1", "scrap_cost": 900.0, "rework_cost": 100.0}
    )
    rows += [
        {"period": f"2026-11-{d:02d}", "line": "line2", "scrap_cost": 50.0} for d in range(1, 16)
    ]
    spikes = analysis.cost_spikes(rows)
    assert [(s["period"], s["line"]) for s in spikes] == [("2026-11-15", "line1")]
    assert spikes[0]["cost"] == 1000.0 and spikes[0]["ratio"] == pytest.approx(1000.0 / 101.0)


def test_alarms_before_a_spike_on_the_same_line():
    alarms = [
        {"id": 1, "characteristic": "line1.op20.bore", "opened_at": "2026-11-14T20:00:00Z"},
        {"id": 2, "characteristic": "line1.op10.depth", "opened_at": "2026-11-15T09:00:00Z"},
        {"id": 3, "characteristic": "line2.op10.width", "opened_at": "2026-11-14T21:00:00Z"},
        {"id": 4, "characteristic": "line1.op20.bore", "opened_at": "2026-11-13T10:00:00Z"},
        {"id": 5, "characteristic": "line1.op20.bore", "opened_at": "2026-11-16T00:30:00Z"},
    ]
    found = analysis.alarms_before(alarms, line="line1", period="2026-11-15", hours=24)
    assert [a["id"] for a in found] == [1, 2]


def test_period_labels():
    assert analysis.period_start("2026-11-15") == datetime(2026, 11, 15, tzinfo=UTC)
    assert analysis.period_start("2026-11") == datetime(2026, 11, 1, tzinfo=UTC)
    assert analysis.period_start("2026-W47") == datetime(2026, 11, 16, tzinfo=UTC)
    assert analysis.period_start("2026-11-15T06:00:00+00:00").hour == 6


def test_overview_row_from_api_answers(chart_factory, characteristic):
    chart = chart_factory(n=80, flagged={70: ["WE1"], 75: ["WE3"]}, disp_flagged={72: ["WE1"]})
    chart["capability"] = {"cpk": 1.21}
    alarms = [{"characteristic": "line1.op20.bore"}, {"characteristic": "other"}]
    row = assemble_row(characteristic, chart, chart, alarms)
    assert row["status"] == "alarm" and row["open_alarms"] == 1
    assert row["line"] == "line1" and row["station"] == "op20"
    # a subgroup flagged on the range chart counts as out of control too
    assert len(row["spark"]) == 60 and sum(row["spark_flags"]) == 3
    assert row["ooc_rate"] == pytest.approx(3 / 80)
    chart["limit_version"] = 1
    quiet = assemble_row(characteristic, chart, chart, [])
    assert quiet["status"] == "ok"
    assert (
        assemble_row({**characteristic, "current_limit_version": None}, {}, {}, [])["status"]
        == "no_limits"
    )
    assert row["cpk"] == 1.21
    assert row["last_value"] == chart["points"][-1]["stat"]
    empty = assemble_row({"key": "a.b.c"}, {}, {}, [])
    assert empty["status"] == "no_limits" and empty["ooc_rate"] is None


def test_fingerprint_changes_with_a_new_point(chart_factory):
    a = chart_factory(n=10)
    b = chart_factory(n=11)
    assert fingerprint(a) != fingerprint(b)
    assert fingerprint(a) == fingerprint(chart_factory(n=10))


def test_histogram_values_prefer_measurements_then_subgroup_values():
    chart = {"points": [{"stat": 2.0, "values": [1.0, 3.0]}, {"stat": 5.0}]}
    assert histogram_values(chart, [{"value": 9.0}]) == [9.0]
    assert histogram_values(chart, None) == [1.0, 3.0, 5.0]


def test_plant_rates_sum_before_dividing():
    rows = [
        {"period": "W1", "key": "line1", "good": 990, "nonconforming": 10},
        {"period": "W1", "key": "line2", "good": 90, "nonconforming": 10},
        {"period": "W2", "key": "line1", "good": 0, "nonconforming": 0},
    ]
    w1, w2 = analysis.plant_rates(rows)
    assert w1["fpy"] == pytest.approx(1080 / 1100) and w1["ppm"] == pytest.approx(20 / 1100 * 1e6)
    assert w2["fpy"] is None and w2["ppm"] is None


def test_copq_share_of_output_value_from_cost_models():
    models = [
        {
            "valid_from": "2026-01-01",
            "valid_to": "2026-11-10",
            "products": [{"product": "P-100", "unit_cost": 10.0}],
        },
        {
            "valid_from": "2026-11-10",
            "valid_to": None,
            "products": [
                {"product": "P-100", "unit_cost": 12.0},
                {"product": "P-200", "unit_cost": 5.0},
            ],
        },
    ]
    rates = [
        {"period": "2026-11-09", "bucket": "2026-11-09T00:00:00Z", "key": "P-100", "total": 100},
        {"period": "2026-11-12", "bucket": "2026-11-12T00:00:00Z", "key": "P-100", "total": 100},
        {"period": "2026-11-12", "bucket": "2026-11-12T00:00:00Z", "key": "P-200", "total": 40},
        {"period": "2026-11-12", "bucket": "2026-11-12T00:00:00Z", "key": "P-999", "total": 7},
    ]
    value = analysis.output_value(rates, models)
    assert value == {"2026-11-09": 1000.0, "2026-11-12": 1400.0}
    costs = [
        {"period": "2026-11-09", "cost": 50.0},
        {"period": "2026-11-12", "cost": 70.0},
        {"period": "2026-11-12", "cost": 14.0},
        {"period": "2026-11-13", "cost": 9.0},
    ]
    assert analysis.copq_share(costs, value) == {"2026-11-09": 0.05, "2026-11-12": 0.06}
