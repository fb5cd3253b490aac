"""The simulated line: seeded, reproducible, chunking-invariant; behaviours do what they say."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from collector.simulator.line import Line, SimSample
from collector.simulator.scenario import ScenarioError, load_scenario, parse_scenario

START = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


def one(behaviours: list[dict[str, Any]] | None = None, **spec: Any) -> Line:
    data = {"key": "l1.op10.x", "mean": 10.0, "sigma": 1.0, "period": 1.0, **spec}
    if behaviours is not None:
        data["behaviours"] = behaviours
    return Line.from_scenario(parse_scenario({"characteristics": [data]}), seed=42, start=START)


def values(line: Line, t: float) -> np.ndarray:
    return np.array([s.value for s in line.sample(t)])


def test_same_seed_same_samples_different_seed_different() -> None:
    demo = load_scenario("demo")
    a = Line.from_scenario(demo, seed=1, start=START).sample(120)
    b = Line.from_scenario(demo, seed=1, start=START).sample(120)
    c = Line.from_scenario(demo, seed=2, start=START).sample(120)
    assert a == b
    assert [s.value for s in a] != [s.value for s in c]


def test_samples_do_not_depend_on_how_often_the_line_is_asked() -> None:
    demo = load_scenario("demo")
    once = Line.from_scenario(demo, seed=3, start=START).sample(600)
    line = Line.from_scenario(demo, seed=3, start=START)
    rng = np.random.default_rng(0)
    stepped: list[SimSample] = []
    t = 0.0
    while t < 600:
        t = min(600.0, t + float(rng.uniform(0.001, 7.0)))
        stepped += line.sample(t)
    key = lambda s: (s.characteristic, s.ts)  # noqa: E731
    assert sorted(stepped, key=key) == sorted(once, key=key)
    assert line.sample(600) == []  # nothing is produced twice


def test_a_characteristics_values_do_not_depend_on_the_others() -> None:
    spec = {"key": "l1.op10.x", "mean": 5.0, "sigma": 1.0}
    alone = Line.from_scenario(parse_scenario({"characteristics": [spec]}), seed=9, start=START)
    other = {"key": "l1.op10.y", "mean": 1.0, "sigma": 2.0, "period": 0.3}
    together = Line.from_scenario(
        parse_scenario({"characteristics": [other, spec]}), seed=9, start=START
    )
    x = [s.value for s in together.sample(50) if s.characteristic == "l1.op10.x"]
    assert x == [s.value for s in alone.sample(50)]


def test_timestamps_follow_the_period_and_speed() -> None:
    line = one(period=0.5)
    got = line.sample(2.0)
    assert [s.ts for s in got] == [START + timedelta(seconds=0.5 * k) for k in range(5)]
    fast = Line.from_scenario(
        parse_scenario({"characteristics": [{"key": "a.b.c", "period": 1.0}]}),
        seed=1,
        start=START,
        speed=10,
    )
    got = fast.sample(1.0)  # ten simulated seconds in one real second
    assert len(got) == 11 and got[-1].ts == START + timedelta(seconds=1)


def test_in_control_is_normal_with_the_given_mean_and_sigma() -> None:
    x = values(one(mean=74.0, sigma=0.01), 20_000)
    assert x.mean() == pytest.approx(74.0, abs=4 * 0.01 / np.sqrt(x.size))
    assert x.std(ddof=1) == pytest.approx(0.01, rel=0.03)


def test_shift_equals_the_in_control_stream_plus_delta_from_its_start() -> None:
    base = values(one(), 200)
    shifted = values(one([{"kind": "shift", "at": 100, "size": 1.5}]), 200)
    assert np.array_equal(shifted[:100], base[:100])
    assert np.allclose(shifted[100:] - base[100:], 1.5)


def test_shift_with_a_duration_ends() -> None:
    base = values(one(), 100)
    shifted = values(one([{"kind": "shift", "at": 10, "duration": 20, "size": -2}]), 100)
    assert np.allclose((shifted - base)[10:30], -2.0)
    assert np.array_equal(shifted[30:], base[30:]) and np.array_equal(shifted[:10], base[:10])


def test_trend_grows_linearly_in_sigma_per_minute() -> None:
    base = values(one(sigma=2.0), 300)
    trend = values(one([{"kind": "trend", "at": 60, "slope": 0.5}], sigma=2.0), 300)
    k = np.arange(301)
    want = np.where(k >= 60, 0.5 * 2.0 * (k - 60) / 60.0, 0.0)
    assert np.allclose(trend - base, want)


def test_variance_increase_scales_the_deviation() -> None:
    base = values(one(), 100)
    wide = values(one([{"kind": "variance", "at": 50, "factor": 3.0}]), 100)
    assert np.allclose(wide[50:] - 10.0, 3.0 * (base[50:] - 10.0))
    assert np.array_equal(wide[:50], base[:50])


def test_stuck_sensor_repeats_its_last_value_then_recovers() -> None:
    base = values(one(), 60)
    stuck = values(one([{"kind": "stuck", "at": 20, "duration": 10}]), 60)
    assert np.all(stuck[20:30] == base[19])
    assert np.array_equal(stuck[30:], base[30:])


def test_dropouts_lose_samples_only_in_their_window_and_with_their_probability() -> None:
    line = one(
        [
            {"kind": "dropout", "at": 100, "duration": 100},
            {"kind": "dropout", "at": 1000, "probability": 0.25},
        ]
    )
    got = line.sample(5000)
    ks = {round((s.ts - START).total_seconds()) for s in got}
    assert not ks & set(range(100, 200))
    assert set(range(0, 100)) | set(range(200, 1000)) <= ks
    lost = 4001 - len(ks & set(range(1000, 5001)))
    assert lost / 4001 == pytest.approx(0.25, abs=0.03)
    # the values that survive are those of the in-control stream
    base = {s.ts: s.value for s in one().sample(5000)}
    assert all(base[s.ts] == s.value for s in got)


def test_fault_flags_samples_bad() -> None:
    got = one([{"kind": "fault", "at": 5, "duration": 3}]).sample(20)
    assert [s.quality for s in got] == ["good"] * 5 + ["bad"] * 3 + ["good"] * 13


def test_subgroups_lots_and_serials() -> None:
    got = one(subgroup_size=5, lot_parts=7, decimals=3).sample(11)
    assert [s.subgroup for s in got] == ["SG000001"] * 5 + ["SG000002"] * 5 + ["SG000003"] * 2
    assert [s.lot for s in got] == ["l1-L00001"] * 7 + ["l1-L00002"] * 5
    assert [s.serial for s in got] == [f"l1-{k:07d}" for k in range(1, 13)]
    assert all(round(s.value, 3) == s.value for s in got)
    plain = one(serials=False).sample(3)
    assert all(s.serial is None and s.lot is None and s.subgroup is None for s in plain)


def test_defect_counts_per_lot_are_poisson_and_shift_by_sigma_of_the_count() -> None:
    spec = {"kind": "defects", "lot_size": 50, "rate": 0.08}  # mean 4 per lot, sigma 2
    counts = values(one(**spec), 5000)
    assert np.all(counts == np.round(counts)) and counts.min() >= 0
    assert counts.mean() == pytest.approx(4.0, abs=0.15)
    assert counts.var(ddof=1) == pytest.approx(4.0, rel=0.1)
    shifted = values(one([{"kind": "shift", "at": 0, "size": 2.0}], **spec), 5000)
    assert shifted.mean() == pytest.approx(8.0, abs=0.25)
    got = one(**spec).sample(2)
    assert [s.lot for s in got] == ["l1-op10-L00001", "l1-op10-L00002", "l1-op10-L00003"]
    assert all(s.serial is None for s in got)


def test_defectives_are_binomial_and_never_exceed_the_lot() -> None:
    spec = {"kind": "defectives", "lot_size": 20, "rate": 0.3}
    counts = values(one([{"kind": "trend", "at": 0, "slope": 5.0}], **spec), 3000)
    assert counts.max() <= 20 and counts[-500:].mean() == pytest.approx(20, abs=0.01)
    plain = values(one(**spec), 5000)
    assert plain.mean() == pytest.approx(6.0, abs=0.15)
    assert plain.var(ddof=1) == pytest.approx(20 * 0.3 * 0.7, rel=0.1)


def test_demo_scenario_covers_every_chart_family_and_injects_faults_about_a_minute_in() -> None:
    demo = load_scenario("demo")
    specs = demo.characteristics
    assert len(specs) >= 12 and {s.line for s in specs} == {"line1", "line2"}
    assert len({(s.line, s.station) for s in specs}) >= 6
    assert {s.kind for s in specs} == {"variable", "defects", "defectives"}
    assert any(s.subgroup_size == 5 for s in specs) and any(s.subgroup_size == 1 for s in specs)
    assert all(s.lot_size > 1 for s in specs if s.kind != "variable")
    injected = {b.kind: b.at for s in specs for b in s.behaviours}
    assert 45 <= injected["shift"] <= 90 and 45 <= injected["trend"] <= 90
    # the shifted characteristic does move: mean of the 2 minutes after vs before
    line = Line.from_scenario(demo, start=START)
    torque = [(s.ts, s.value) for s in line.sample(180) if s.characteristic == "line1.op20.torque"]
    before = np.mean([v for ts, v in torque if ts < START + timedelta(seconds=60)])
    after = np.mean([v for ts, v in torque if ts >= START + timedelta(seconds=60)])
    assert after - before == pytest.approx(2 * 0.4, abs=0.25)


def test_load_scenario_builtin_and_files(tmp_path) -> None:
    load = load_scenario("load:250@10")
    assert len(load.characteristics) == 250 and load.characteristics[0].period == pytest.approx(0.1)
    (tmp_path / "s.json").write_text(json.dumps({"seed": 5, "characteristics": [{"key": "a.b.c"}]}))
    assert load_scenario(tmp_path / "s.json").seed == 5
    (tmp_path / "s.toml").write_text(
        'name = "t"\n[[characteristics]]\nkey = "a.b.c"\nmean = 2.0\n'
        '[[characteristics.behaviours]]\nkind = "shift"\nat = 5\nsize = 1.0\n'
    )
    sc = load_scenario(tmp_path / "s.toml")
    assert sc.characteristics[0].behaviours[0].size == 1.0
    with pytest.raises(ScenarioError, match="no built-in scenario or file"):
        load_scenario(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ScenarioError, match="not valid"):
        load_scenario(tmp_path / "bad.json")


@pytest.mark.parametrize(
    ("characteristic", "argument"),
    [
        ({"key": "nodots"}, "characteristics[0].key"),
        ({"key": "a.b.c", "sigma": 0}, "characteristics[0].sigma"),
        ({"key": "a.b.c", "period": -1}, "characteristics[0].period"),
        ({"key": "a.b.c", "kind": "gauge"}, "characteristics[0].kind"),
        ({"key": "a.b.c", "kind": "defects"}, "characteristics[0].rate"),
        ({"key": "a.b.c", "kind": "defectives", "rate": 1.5}, "characteristics[0].rate"),
        ({"key": "a.b.c", "subgroup_size": 0}, "characteristics[0].subgroup_size"),
        ({"key": "a.b.c", "colour": "red"}, "characteristics[0].colour"),
        ({"key": "a.b.c", "behaviours": [{"kind": "explode"}]},
         "characteristics[0].behaviours[0].kind"),
        ({"key": "a.b.c", "behaviours": [{"kind": "dropout", "probability": 2}]},
         "characteristics[0].behaviours[0].probability"),
        ({"key": "a.b.c", "kind": "defects", "rate": 0.1, "behaviours": [{"kind": "variance"}]},
         "characteristics[0].behaviours[0].kind"),
        ({"key": "a.b.c", "mean": "high"}, "characteristics[0].mean"),
    ],
)  # fmt: skip
def test_bad_scenarios_are_refused_naming_the_field(
    characteristic: dict[str, Any], argument: str
) -> None:
    with pytest.raises(ScenarioError) as err:
        parse_scenario({"characteristics": [characteristic]})
    assert err.value.argument == argument


def test_duplicate_keys_and_bad_line_arguments_are_refused() -> None:
    with pytest.raises(ScenarioError, match="duplicate"):
        parse_scenario({"characteristics": [{"key": "a.b.c"}, {"key": "a.b.c"}]})
    with pytest.raises(ScenarioError) as err:
        Line.from_scenario(load_scenario("demo"), speed=0)
    assert err.value.argument == "speed"
    with pytest.raises(ScenarioError) as err:
        Line.from_scenario(load_scenario("demo"), start=datetime(2026, 1, 1))
    assert err.value.argument == "start"


def test_the_documented_scenario_file_is_valid() -> None:
    import tomllib

    import collector.simulator.scenario as module

    assert module.__doc__ is not None
    doc = module.__doc__.split("works too):")[1]
    text = "\n".join(line[4:] for line in doc.splitlines() if line.startswith("    "))
    sc = parse_scenario(tomllib.loads(text))
    assert [c.kind for c in sc.characteristics] == ["variable", "defects"]
    assert sc.characteristics[0].behaviours[0].kind == "shift"
