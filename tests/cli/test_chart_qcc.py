"""`linewatch chart --format json` on the textbook data against qcc's published outputs.

Runs the installed console script (a subprocess), as a user or a script would. qcc rounds d₂ to
three decimals where we compute it exactly, so sigma and every limit distance derived from an
MR or R estimate is compared to 6e-4 relative (ARCHITECTURE "CLI chart contract"); statistics
and attribute limits are exact.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).parents[1] / "data"
LINEWATCH = Path(sys.executable).parent / "linewatch"
D2_REL = 6e-4
EXACT = {"rel": 1e-9, "abs": 1e-12}


@cache
def qcc() -> dict[str, Any]:
    cases: dict[str, Any] = json.loads((DATA / "expected_qcc.json").read_text())["cases"]
    return cases


def chart_json(*args: str) -> dict[str, Any]:
    proc = subprocess.run(
        [str(LINEWATCH), "chart", *args, "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=DATA,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    document: dict[str, Any] = json.loads(proc.stdout)
    return document


def flagged(points: list[dict[str, Any]], rule: str | None = None) -> list[int]:
    return [p["i"] for p in points if (rule in p["violations"] if rule else p["violations"])]


def test_pistonrings_xbar_r_phase1_25() -> None:
    doc = chart_json(
        "pistonrings.csv", "--type", "xbar-r", "--value", "diameter", "--subgroup", "sample",
        "--phase1", "25", "--lsl", "73.95", "--usl", "74.05", "--target", "74",
    )  # fmt: skip
    case = qcc()["pistonrings_xbar_R"]
    assert doc["chart"] == "xbar-r"
    assert doc["phase1"] == 25
    assert doc["rules"] == "western-electric"
    assert doc["center"] == pytest.approx(case["center"], **EXACT)
    assert doc["sigma"] == pytest.approx(case["std_dev"], rel=D2_REL)
    points = doc["points"]
    assert [p["i"] for p in points] == list(range(40))
    assert [p["n"] for p in points] == case["sizes"]
    assert [p["stat"] for p in points] == pytest.approx(case["statistics"], **EXACT)
    for p, lcl, ucl in zip(points, case["lcl"], case["ucl"], strict=True):
        assert p["ucl"] - doc["center"] == pytest.approx(ucl - case["center"], rel=D2_REL)
        assert doc["center"] - p["lcl"] == pytest.approx(case["center"] - lcl, rel=D2_REL)
    # qcc's beyond-limits points are exactly our WE1 points (qcc's own run rule differs).
    assert flagged(points, "WE1") == case["beyond_limits_idx0"]

    r_case = qcc()["pistonrings_R"]
    dispersion = doc["dispersion"]
    assert dispersion["chart"] == "r"
    assert dispersion["center"] == pytest.approx(r_case["center"], **EXACT)
    r_points = dispersion["points"]
    assert [p["stat"] for p in r_points] == pytest.approx(r_case["statistics"], **EXACT)
    assert [p["ucl"] for p in r_points] == pytest.approx(r_case["ucl"], rel=D2_REL)
    assert flagged(r_points) == r_case["beyond_limits_idx0"]

    cap_case = qcc()["pistonrings_capability_target74"]
    cap = doc["capability"]
    assert cap["n"] == cap_case["nobs"] == 125
    assert cap["mean"] == pytest.approx(cap_case["center"], **EXACT)
    assert cap["sigma_within"] == pytest.approx(cap_case["std_dev"], rel=D2_REL)
    for ours, theirs in (
        ("cp", "Cp"),
        ("cpl", "Cp_l"),
        ("cpu", "Cp_u"),
        ("cpk", "Cp_k"),
        ("cpm", "Cpm"),
    ):
        assert cap[ours] == pytest.approx(cap_case[theirs]["value"], rel=D2_REL), ours
    for ours, theirs in (("cp", "Cp"), ("cpk", "Cp_k"), ("cpm", "Cpm")):
        low, high = cap["ci95"][ours]
        assert low == pytest.approx(cap_case[theirs]["lower"], rel=1e-3), ours
        assert high == pytest.approx(cap_case[theirs]["upper"], rel=1e-3), ours


def test_orangejuice_p_trial_limits_judge_all_54() -> None:
    doc = chart_json(
        "orangejuice.csv", "--type", "p", "--count", "D", "--size", "size", "--phase1", "30"
    )
    case = qcc()["orangejuice_p_trial"]
    assert doc["chart"] == "p"
    assert doc["center"] == pytest.approx(case["center"], **EXACT)
    assert doc["sigma"] == pytest.approx(case["std_dev"], **EXACT)
    points = doc["points"]
    assert len(points) == 54
    trial = points[:30]
    assert [p["stat"] for p in trial] == pytest.approx(case["statistics"], **EXACT)
    assert [p["lcl"] for p in trial] == pytest.approx(case["lcl"], **EXACT)
    assert [p["ucl"] for p in trial] == pytest.approx(case["ucl"], **EXACT)
    assert [p["n"] for p in trial] == case["sizes"]
    assert flagged(trial, "WE1") == case["beyond_limits_idx0"]  # samples 15 and 23 (0-based 14, 22)
    # After the machine adjustment (samples 31-54) the fraction drops: judged against the trial
    # limits, the later points sit below the center line, and WE4 eventually fires.
    assert all(p["ucl"] == trial[0]["ucl"] for p in points[30:])
    assert any("WE4" in p["violations"] for p in points[30:])


def test_circuit_c_trial() -> None:
    doc = chart_json("circuit.csv", "--type", "c", "--count", "x", "--phase1", "26")
    case = qcc()["circuit_c_trial"]
    assert doc["center"] == pytest.approx(case["center"], **EXACT)
    assert doc["sigma"] == pytest.approx(case["std_dev"], **EXACT)
    trial = doc["points"][:26]
    assert [p["stat"] for p in trial] == pytest.approx(case["statistics"], **EXACT)
    assert [p["lcl"] for p in trial] == pytest.approx(case["lcl"], **EXACT)
    assert [p["ucl"] for p in trial] == pytest.approx(case["ucl"], **EXACT)
    assert flagged(trial, "WE1") == case["beyond_limits_idx0"] == [5, 19]
    assert len(doc["points"]) == 46


def test_dyedcloth_u_varying_limits() -> None:
    doc = chart_json("dyedcloth.csv", "--type", "u", "--count", "x", "--size", "size")
    case = qcc()["dyedcloth_u"]
    assert doc["center"] == pytest.approx(case["center"], **EXACT)
    assert doc["sigma"] == pytest.approx(case["std_dev"], **EXACT)
    points = doc["points"]
    assert [p["n"] for p in points] == pytest.approx(case["sizes"], **EXACT)
    assert [p["stat"] for p in points] == pytest.approx(case["statistics"], **EXACT)
    assert [p["lcl"] for p in points] == pytest.approx(case["lcl"], **EXACT)
    assert [p["ucl"] for p in points] == pytest.approx(case["ucl"], **EXACT)
    assert len({p["ucl"] for p in points}) > 1  # limits vary with the inspection units
    assert flagged(points, "WE1") == case["beyond_limits_idx0"]


def test_viscosity_imr_phase1_20() -> None:
    doc = chart_json(
        "viscosity.csv",
        "--type",
        "imr",
        "--value",
        "viscosity",
        "--phase1",
        "20",
        "--rules",
        "nelson",
    )
    case = qcc()["viscosity_I_MR_trial"]
    assert doc["rules"] == "nelson"
    assert doc["center"] == pytest.approx(case["center"], **EXACT)
    assert doc["sigma"] == pytest.approx(case["std_dev"], rel=D2_REL)
    trial = doc["points"][:20]
    assert [p["stat"] for p in trial] == pytest.approx(case["statistics"], **EXACT)
    for p, ucl in zip(trial, case["ucl"], strict=True):
        assert p["ucl"] - doc["center"] == pytest.approx(ucl - case["center"], rel=D2_REL)
    assert flagged(trial, "N1") == case["beyond_limits_idx0"] == [3]
    assert doc["dispersion"]["chart"] == "mr"
    assert doc["dispersion"]["center"] == pytest.approx(case["std_dev"] * 1.128, rel=1e-9)


def test_viscosity_ewma() -> None:
    doc = chart_json(
        "viscosity.csv", "--type", "ewma", "--value", "viscosity", "--phase1", "20",
        "--lambda", "0.2", "--L", "3",
    )  # fmt: skip
    case = qcc()["viscosity_ewma_l0.2_L3"]
    assert doc["chart"] == "ewma"
    assert doc["center"] == pytest.approx(case["center"], **EXACT)
    assert doc["sigma"] == pytest.approx(case["std_dev"], rel=D2_REL)
    points = doc["points"]
    assert [p["stat"] for p in points] == pytest.approx(case["ewma"], **EXACT)
    for p, ucl, lcl in zip(points, case["ucl"], case["lcl"], strict=True):
        assert p["ucl"] - doc["center"] == pytest.approx(ucl - case["center"], rel=D2_REL)
        assert doc["center"] - p["lcl"] == pytest.approx(case["center"] - lcl, rel=D2_REL)
    assert flagged(points) == case["violations_idx0"] == [34]


def test_viscosity_cusum() -> None:
    doc = chart_json(
        "viscosity.csv", "--type", "cusum", "--value", "viscosity", "--phase1", "20",
        "--k", "0.5", "--h", "5",
    )  # fmt: skip
    case = qcc()["viscosity_cusum_h5_k0.5"]
    assert doc["chart"] == "cusum"
    assert doc["center"] == pytest.approx(case["center"], **EXACT)
    points = doc["points"]
    assert all(p["ucl"] == 5 and p["lcl"] == -5 for p in points)
    # Sums of z-scores: qcc's rounded d2 error (3.4e-4 relative per term) accumulates.
    assert [p["upper"] for p in points] == pytest.approx(case["cusum_pos"], rel=3e-3, abs=3e-3)
    assert [p["lower"] for p in points] == pytest.approx(case["cusum_neg"], rel=3e-3, abs=3e-3)
    assert all(p["upper"] >= 0 >= p["lower"] for p in points)
    expected = sorted(case["violations_upper_idx0"] + case["violations_lower_idx0"])
    assert flagged(points) == expected
    assert not math.isnan(points[0]["stat"])


def test_json_numbers_keep_full_precision() -> None:
    proc = subprocess.run(
        [
            str(LINEWATCH),
            "chart",
            "dyedcloth.csv",
            "--type",
            "u",
            "--count",
            "x",
            "--size",
            "size",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=DATA,
    )
    doc = json.loads(proc.stdout)
    # 10 defect-free digits survive: the text holds repr(float), not a rounded rendering.
    assert repr(doc["center"]) in proc.stdout
    assert len(repr(doc["points"][0]["ucl"]).split(".")[1]) > 8


def test_table_format_highlights_violations() -> None:
    proc = subprocess.run(
        [str(LINEWATCH), "chart", "circuit.csv", "--type", "c", "--count", "x", "--phase1", "26"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=DATA,
        env={"COLUMNS": "120", "FORCE_COLOR": "1", "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr
    assert "center 19.846154" in proc.stdout
    lines = [line for line in proc.stdout.splitlines() if "WE1" in line]
    assert len(lines) >= 2
    assert all("\x1b[1;31m" in line for line in lines)  # bold red
