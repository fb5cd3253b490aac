"""Every chart and capability case of qcc 2.7 on the textbook data (tests/data/expected_qcc.json).

Tolerances: 1e-9 relative where no d₂ is involved; 5e-4 where qcc's three-decimal d₂ table
enters (R-based sigmas), since we compute d₂ exactly. Control limits are compared as widths
(limit − center), so that the tolerance means something for limits far from zero.
"""

from __future__ import annotations

import csv
import json
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import spc

DATA = Path(__file__).resolve().parents[1] / "data"
CASES: dict[str, dict[str, Any]] = json.loads((DATA / "expected_qcc.json").read_text())["cases"]
EXACT = 1e-9
D2_TOL = 5e-4
SIGMA_METHOD = {
    "UWAVE-R": "r-bar",
    "UWAVE-SD": "s-bar",
    "MVLUE-R": "mvlue-r",
    "MVLUE-SD": "mvlue-s",
    "RMSDF": "pooled",
    "MR": "mr",
    "SD": "sd",
}
USES_D2 = {"UWAVE-R", "MVLUE-R", "MR"}


def _rows(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(newline="") as handle:
        return list(csv.DictReader(handle))


def pistonrings(removed_rows: list[int] | None = None) -> list[list[float]]:
    """The 40 subgroups in sample order, without the given 1-based rows (unequal sizes then)."""
    removed = set(removed_rows or ())
    groups: OrderedDict[str, list[float]] = OrderedDict()
    for row in _rows("pistonrings.csv"):
        groups.setdefault(row["sample"], [])
        if int(row["row"]) not in removed:
            groups[row["sample"]].append(float(row["diameter"]))
    return list(groups.values())


def qcc27_violating_runs(stat: np.ndarray, center: np.ndarray, run_length: int) -> list[int]:
    """qcc 2.7 `violating.runs`: in every same-side run (a point on the center ends a run) of at
    least `run_length` points, the points from the run_length-th to the end (0-based)."""
    side = np.sign(stat - center)
    flagged: list[int] = []
    start = 0
    for i in range(1, len(side) + 1):
        if i == len(side) or side[i] != side[start]:
            if side[start] != 0 and i - start >= run_length:
                flagged.extend(range(start + run_length - 1, i))
            start = i
    return sorted(flagged)


def assert_close(actual: Any, expected: Any, rtol: float, what: str) -> None:
    actual_arr = np.asarray(actual, dtype=float)
    expected_arr = np.asarray(expected, dtype=float)
    assert actual_arr.shape == expected_arr.shape, f"{what}: shape"
    scale = np.max(np.abs(expected_arr)) if expected_arr.size else 0.0
    np.testing.assert_allclose(
        actual_arr, expected_arr, rtol=rtol, atol=1e-14 * max(scale, 1.0), err_msg=what
    )


def shewhart_case(case_id: str) -> tuple[spc.ChartResult, dict[str, Any], bool]:
    """Build our chart for a qcc Shewhart case: (our chart for that type, case, uses d2)."""
    case = CASES[case_id]
    kind = case["type"]
    phase1 = case["n_calibration"] if case["n_new"] else None
    method = case.get("std_dev_method")
    limits_args: dict[str, Any] = {"phase1": phase1, "rules": "western-electric"}
    if case["confidence_level"] is not None:
        limits_args["confidence_level"] = case["confidence_level"]
    elif case["nsigmas"] is not None:
        limits_args["nsigmas"] = case["nsigmas"]
    dataset = case["dataset"]
    uses_d2 = method in USES_D2
    if dataset == "pistonrings":
        groups = pistonrings(case.get("removed_rows_idx1"))
        if kind in ("xbar", "R"):
            builder = spc.xbar_r if method in ("UWAVE-R", "MVLUE-R", None) else spc.xbar_s
            result = builder(groups, sigma_method=SIGMA_METHOD[method], **limits_args)
            return (result if kind == "xbar" else result.dispersion), case, uses_d2
        result = spc.xbar_s(groups, sigma_method=SIGMA_METHOD[method], **limits_args)
        return result.dispersion, case, uses_d2
    if kind == "xbar.one":
        values = individuals(dataset, case.get("removed_rows_idx1"))
        values = values[: case["n_calibration"] + case["n_new"]]
        return spc.imr(values, sigma_method=SIGMA_METHOD[method], **limits_args), case, uses_d2
    counts, sizes = attributes(case)
    builder = {"p": spc.p_chart, "np": spc.np_chart, "c": spc.c_chart, "u": spc.u_chart}[kind]
    return builder(counts, sizes=sizes, **limits_args), case, False


def individuals(dataset: str, removed_rows: list[int] | None = None) -> list[float]:
    column = {"viscosity": "viscosity", "viscosity15": "viscosity", "antifreeze": "water"}[dataset]
    rows = _rows(f"{dataset}.csv")
    removed = set(removed_rows or ())
    kept = [row for position, row in enumerate(rows, start=1) if position not in removed]
    if "trial" in rows[0]:  # phase I (trial) rows first, then the new ones, as qcc is called
        kept = [r for r in kept if r["trial"] == "true"] + [r for r in kept if r["trial"] != "true"]
    return [float(row[column]) for row in kept]


def attributes(case: dict[str, Any]) -> tuple[list[float], list[float]]:
    """Counts and sizes in qcc's order: calibration samples, then the new (non-trial) ones."""
    dataset = case["dataset"]
    rows = _rows(f"{dataset}.csv")
    count_column = "D" if dataset.startswith("orangejuice") else "x"
    by_sample = {int(row.get("sample") or row.get("roll") or 0): row for row in rows}
    if "calibration_samples" in case:
        calibration = [by_sample[s] for s in case["calibration_samples"]]
    elif "trial" in rows[0]:
        calibration = [row for row in rows if row["trial"] == "true"]
    else:
        calibration = rows
    new = [row for row in rows if row.get("trial") == "false"] if case["n_new"] else []
    chosen = calibration + new
    assert len(chosen) == case["n_calibration"] + case["n_new"]
    return [float(r[count_column]) for r in chosen], [float(r["size"]) for r in chosen]


SHEWHART = [
    k
    for k, v in CASES.items()
    if v.get("type") in ("xbar", "R", "S", "xbar.one", "p", "np", "c", "u")
]
EWMA = [k for k, v in CASES.items() if v.get("type") == "ewma"]
CUSUM = [k for k, v in CASES.items() if v.get("type") == "cusum"]
CAPABILITY = [k for k in CASES if "capability" in k]


def test_every_case_is_covered() -> None:
    assert set(SHEWHART) | set(EWMA) | set(CUSUM) | set(CAPABILITY) == set(CASES)
    assert (len(SHEWHART), len(EWMA), len(CUSUM), len(CAPABILITY)) == (32, 6, 4, 6)


@pytest.mark.parametrize("case_id", SHEWHART)
def test_shewhart_chart_matches_qcc(case_id: str) -> None:
    result, case, uses_d2 = shewhart_case(case_id)
    sigma_tol = D2_TOL if uses_d2 else EXACT
    assert_close(result.stat, case["statistics"], EXACT, "statistics")
    assert_close(result.n, case["sizes"], 0.0, "sizes")
    # Centers never involve d₂: the R chart's is the size-weighted mean range, as in qcc.
    assert_close(result.center_line, case["center_per_point"], EXACT, "center")
    assert_close(result.sigma, case["std_dev"], sigma_tol, "std_dev")
    qcc_center = np.asarray(case["center_per_point"], dtype=float)
    assert_close(result.ucl - qcc_center, np.asarray(case["ucl"]) - qcc_center, sigma_tol, "ucl")
    assert_close(qcc_center - result.lcl, qcc_center - np.asarray(case["lcl"]), sigma_tol, "lcl")
    assert np.flatnonzero(result.flags["WE1"]).tolist() == case["beyond_limits_idx0"]


@pytest.mark.parametrize("case_id", SHEWHART)
def test_run_flags_match_qcc27_runs_and_we4(case_id: str) -> None:
    result, case, _ = shewhart_case(case_id)
    runs7 = qcc27_violating_runs(result.stat, result.center_line, case["run_length"])
    assert runs7 == case["violating_runs_idx0"]
    we4 = np.flatnonzero(result.flags.get("WE4", np.zeros(0, bool))).tolist()
    if case["type"] in ("R", "S"):
        assert "WE4" not in result.flags  # dispersion charts only signal beyond limits
        return
    assert we4 == qcc27_violating_runs(result.stat, result.center_line, 8)
    assert set(we4) <= set(runs7)


def test_we4_on_a_known_run() -> None:
    # pistonrings phase II: subgroups 34..40 (0-based 33..39) are all above the center, a run
    # of 7 (qcc 2.7 flags the 7th point, 39) that is one short of WE4.
    result, case, _ = shewhart_case("pistonrings_varsize_xbar_UWAVE-R")
    assert case["violating_runs_idx0"] == [39]
    assert not result.flags["WE4"].any()
    assert np.all(result.stat[33:40] > result.center_line[33:40])


def ewma_or_cusum_data(case: dict[str, Any]) -> Any:
    dataset = case["dataset"]
    if dataset == "pistonrings":
        return pistonrings()[: case["n_calibration"] + case["n_new"]]
    return individuals(dataset)[: case["n_calibration"] + case["n_new"]]


@pytest.mark.parametrize("case_id", EWMA)
def test_ewma_matches_qcc(case_id: str) -> None:
    case = CASES[case_id]
    data = ewma_or_cusum_data(case)
    result = spc.ewma(
        data,
        phase1=case["n_calibration"] if case["n_new"] else None,
        lam=case["lambda"],
        L=case["nsigmas"],
    )
    assert_close(result.center, case["center"], EXACT, "center")
    assert_close(result.sigma, case["std_dev"], D2_TOL, "std_dev")
    assert_close(result.stat, case["ewma"], EXACT, "ewma")
    assert_close(result.sigma_stat, case["sigma"], D2_TOL, "sigma")
    center = case["center"]
    assert_close(result.ucl - center, np.asarray(case["ucl"]) - center, D2_TOL, "ucl")
    assert_close(center - result.lcl, center - np.asarray(case["lcl"]), D2_TOL, "lcl")
    assert np.flatnonzero(result.flags["WE1"]).tolist() == case["violations_idx0"]


@pytest.mark.parametrize("case_id", CUSUM)
def test_cusum_matches_qcc(case_id: str) -> None:
    case = CASES[case_id]
    data = ewma_or_cusum_data(case)
    result = spc.cusum(
        data,
        phase1=case["n_calibration"] if case["n_new"] else None,
        k=case["se_shift"] / 2,
        h=case["decision_interval"],
        head_start=case["head_start"],
    )
    assert_close(result.center, case["center"], EXACT, "center")
    assert_close(result.sigma, case["std_dev"], D2_TOL, "std_dev")
    scale = max(np.max(np.abs(case["cusum_pos"])), np.max(np.abs(case["cusum_neg"])))
    assert result.upper is not None and result.lower is not None
    np.testing.assert_allclose(result.upper, case["cusum_pos"], rtol=D2_TOL, atol=D2_TOL * scale)
    np.testing.assert_allclose(result.lower, case["cusum_neg"], rtol=D2_TOL, atol=D2_TOL * scale)
    assert np.all(result.upper >= 0) and np.all(result.lower <= 0)
    upper = np.flatnonzero(result.upper > case["decision_interval"]).tolist()
    lower = np.flatnonzero(result.lower < -case["decision_interval"]).tolist()
    assert upper == case["violations_upper_idx0"]
    assert lower == case["violations_lower_idx0"]
    flagged = np.flatnonzero(result.flags["WE1"]).tolist()
    assert flagged == sorted(set(upper) | set(lower))


def qcc_percent_floor(fraction: float) -> float:
    """qcc prints expected fractions below 0.01 % as 0."""
    return 0.0 if fraction < 1e-4 else fraction


def capability_values(case: dict[str, Any]) -> tuple[np.ndarray, float]:
    """(phase I values, our within sigma of the chart qcc took the sigma from)."""
    if case["dataset"] == "pistonrings":
        groups = pistonrings()[:25]
        return np.concatenate(groups), spc.xbar_r(groups).sigma
    values = individuals(case["dataset"])
    return np.asarray(values), spc.imr(values).sigma


@pytest.mark.parametrize("case_id", CAPABILITY)
@pytest.mark.parametrize("sigma_source", ["ours", "qcc"])
def test_capability_matches_qcc(case_id: str, sigma_source: str) -> None:
    case = CASES[case_id]
    values, our_sigma = capability_values(case)
    sigma = case["std_dev"] if sigma_source == "qcc" else our_sigma
    tol = EXACT * 1e3 if sigma_source == "qcc" else D2_TOL  # qcc's center is rounded to 15 digits
    target = case["target"] if "default" not in case_id else None
    report = spc.capability(
        values, sigma_within=sigma, lsl=case["lsl"], usl=case["usl"], target=target
    )
    assert report.n == case["nobs"]
    assert_close(report.mean, case["center"], EXACT, "center")
    assert report.target == pytest.approx(case["target"])
    for ours, theirs in (
        ("cp", "Cp"),
        ("cpl", "Cp_l"),
        ("cpu", "Cp_u"),
        ("cpk", "Cp_k"),
        ("cpm", "Cpm"),
    ):
        assert_close(getattr(report, ours), case[theirs]["value"], tol, ours)
    for ours, theirs in (("cp", "Cp"), ("cpk", "Cp_k"), ("cpm", "Cpm")):
        low, high = report.ci95[ours]
        assert_close(low, case[theirs]["lower"], tol, f"{ours} lower")
        assert_close(high, case[theirs]["upper"], tol, f"{ours} upper")
    assert report.observed_below_lsl == case["obs_below_lsl"]
    assert report.observed_above_usl == case["obs_above_usl"]
    for ours, theirs in (
        ("expected_below_lsl", "exp_below_lsl"),
        ("expected_above_usl", "exp_above_usl"),
    ):
        value = qcc_percent_floor(getattr(report, ours))
        expected = case[theirs]
        if expected == 0.0:
            assert value == 0.0
        else:
            assert_close(value, expected, max(tol, 1e-6 if sigma_source == "qcc" else 5e-3), ours)
