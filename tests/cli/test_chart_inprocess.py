"""`linewatch chart` in-process (typer's CliRunner): grouping, subgrouped EWMA/CUSUM, table
rendering and the bundled sample."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from linewatch.chart_output import to_json
from linewatch.cli import app

DATA = Path(__file__).parents[1] / "data"
SAMPLE = Path(__file__).parents[2] / "linewatch" / "samples" / "bore.csv"
runner = CliRunner()


def run_json(*args: str) -> dict[str, Any]:
    result = runner.invoke(app, ["chart", *args, "--format", "json"])
    assert result.exit_code == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def qcc(case: str) -> dict[str, Any]:
    cases: dict[str, Any] = json.loads((DATA / "expected_qcc.json").read_text())["cases"]
    return cases[case]


def test_subgroup_size_equals_subgroup_column() -> None:
    common = ["--type", "xbar-s", "--value", "diameter", "--phase1", "25"]
    by_column = run_json(str(DATA / "pistonrings.csv"), *common, "--subgroup", "sample")
    by_size = run_json(str(DATA / "pistonrings.csv"), *common, "--subgroup-size", "5")
    assert by_column == by_size
    assert by_column["dispersion"]["chart"] == "s"


def test_subgroups_follow_first_appearance(tmp_path: Path) -> None:
    path = tmp_path / "shuffled.csv"
    path.write_text("g,x\nb,1\na,10\nb,3\na,12\nc,5\nc,7\n")
    doc = run_json(str(path), "--type", "xbar-r", "--value", "x", "--subgroup", "g")
    assert [p["stat"] for p in doc["points"]] == [2.0, 11.0, 6.0]  # b, a, c
    assert [p["stat"] for p in doc["dispersion"]["points"]] == [2.0, 2.0, 2.0]


def test_single_column_file_needs_no_value(tmp_path: Path) -> None:
    path = tmp_path / "one.csv"
    path.write_text("weight\n10.1\n9.9\n10.0\n10.2\n9.8\n")
    doc = run_json(str(path), "--type", "imr")
    assert [p["stat"] for p in doc["points"]] == [10.1, 9.9, 10.0, 10.2, 9.8]
    assert doc["center"] == pytest.approx(10.0)


@pytest.mark.parametrize(
    ("kind", "case", "extra"),
    [
        ("ewma", "pistonrings_ewma_l0.2_L3", ["--lambda", "0.2", "--L", "3"]),
        ("cusum", "pistonrings_cusum_h5_k0.5", ["--k", "0.5", "--h", "5"]),
    ],
)
def test_subgrouped_ewma_and_cusum_match_qcc(kind: str, case: str, extra: list[str]) -> None:
    doc = run_json(
        str(DATA / "pistonrings.csv"), "--type", kind, "--value", "diameter",
        "--subgroup", "sample", "--phase1", "25", *extra,
    )  # fmt: skip
    expected = qcc(case)
    assert doc["center"] == pytest.approx(expected["center"], rel=1e-12)
    assert doc["sigma"] == pytest.approx(expected["std_dev"], rel=6e-4)
    points = doc["points"]
    assert [p["n"] for p in points] == [5] * 40
    flagged = [p["i"] for p in points if p["violations"]]
    if kind == "ewma":
        assert [p["stat"] for p in points] == pytest.approx(expected["ewma"], rel=1e-12)
        assert flagged == expected["violations_idx0"]
    else:
        assert [p["upper"] for p in points] == pytest.approx(expected["cusum_pos"], abs=5e-3)
        assert flagged == sorted(
            expected["violations_upper_idx0"] + expected["violations_lower_idx0"]
        )


def test_long_table_shows_only_violations(tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    values = [10.0 + 0.1 * ((i * 7) % 5 - 2) for i in range(300)]
    values[250] = 20.0
    path.write_text("x\n" + "\n".join(map(str, values)) + "\n")
    result = runner.invoke(app, ["chart", str(path), "--type", "imr", "--phase1", "100"])
    assert result.exit_code == 0, result.stderr
    assert "showing only the" in result.stdout
    assert "250" in result.stdout
    body = [line for line in result.stdout.splitlines() if "│" in line]
    assert 1 <= len(body) < 20


def test_table_lists_every_point_and_capability() -> None:
    result = runner.invoke(
        app,
        [
            "chart", str(DATA / "viscosity.csv"), "--type", "imr", "--value", "viscosity",
            "--phase1", "20", "--usl", "36",
        ],
        env={"COLUMNS": "120"},
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    rows = [line.split("│")[0].strip() for line in result.stdout.splitlines() if "│" in line]
    indices = [int(cell) for cell in rows if cell.isdigit()]
    assert sorted(indices) == sorted([*range(35), *range(1, 35)])  # every I and MR point
    assert "capability (phase I data)" in result.stdout
    assert "cpu" in result.stdout and "cpl" not in result.stdout  # one-sided spec
    assert "warning: values do not look normal" in " ".join(result.stdout.split())


def test_bundled_sample_shows_the_shift() -> None:
    doc = run_json(
        str(SAMPLE), "--type", "xbar-r", "--value", "diameter", "--subgroup", "sample",
        "--phase1", "25", "--rules", "nelson", "--lsl", "73.95", "--usl", "74.05",
    )  # fmt: skip
    flagged = [p["i"] for p in doc["points"] if p["violations"]]
    assert flagged and min(flagged) >= 25  # in control in phase I, the shift after it is caught
    assert doc["capability"]["n"] == 125


def test_json_turns_non_finite_numbers_into_null() -> None:
    text = to_json({"a": float("nan"), "b": [1.5, float("inf")], "c": {"d": 0.1}})
    assert json.loads(text) == {"a": None, "b": [1.5, None], "c": {"d": 0.1}}
    assert to_json({"x": 0.1 + 0.2}) == '{"x": 0.30000000000000004}'
