"""The public surface of `spc`, pinned: the service, CLI and dashboard code against these names."""

from __future__ import annotations

import doctest
import importlib
import inspect
import subprocess
import sys

import pytest

import spc

EXPECTED = [
    "A2",
    "A3",
    "B3",
    "B4",
    "CHART_KINDS",
    "D3",
    "D4",
    "E2",
    "RULE_SETS",
    "SIGMA_METHODS",
    "Capability",
    "ChartResult",
    "InsufficientDataError",
    "InvalidArgumentError",
    "InvalidDataError",
    "Limits",
    "Monitor",
    "PointResult",
    "SpcError",
    "SubgroupSizeError",
    "c4",
    "c_chart",
    "capability",
    "chart",
    "cusum",
    "d2",
    "d3",
    "describe_rule",
    "evaluate_rules",
    "ewma",
    "flagged_together",
    "imr",
    "np_chart",
    "p_chart",
    "resolve_rules",
    "u_chart",
    "update_together",
    "xbar_r",
    "xbar_s",
]


def _isort_key(name: str) -> tuple[int, str]:
    """ruff's RUF022 order: CONSTANTS, then Classes, then functions."""
    if name.isupper():
        return 0, name
    return (1 if name[0].isupper() else 2), name


def test_all_is_pinned_and_sorted() -> None:
    assert spc.__all__ == EXPECTED
    assert sorted(spc.__all__, key=_isort_key) == spc.__all__
    for name in spc.__all__:
        assert getattr(spc, name) is not None


def test_chart_kinds_and_rule_sets() -> None:
    assert spc.CHART_KINDS == ("imr", "xbar-r", "xbar-s", "p", "np", "c", "u", "ewma", "cusum")
    assert set(spc.RULE_SETS) == {"western-electric", "nelson", "none"}
    assert spc.SIGMA_METHODS == ("r-bar", "s-bar", "pooled", "mvlue-r", "mvlue-s", "mr", "sd")


def test_chart_signature() -> None:
    parameters = inspect.signature(spc.chart).parameters
    assert list(parameters) == [
        "kind", "data", "sizes", "phase1", "limits", "rules", "sigma_method", "nsigmas",
        "confidence_level", "lam", "L", "k", "h", "head_start",
    ]  # fmt: skip
    defaults = {name: p.default for name, p in parameters.items() if name not in ("kind", "data")}
    assert defaults == {
        "sizes": None, "phase1": None, "limits": None, "rules": "western-electric",
        "sigma_method": None, "nsigmas": 3.0, "confidence_level": None, "lam": 0.2, "L": 3.0,
        "k": 0.5, "h": 5.0, "head_start": 0.0,
    }  # fmt: skip


def test_result_fields() -> None:
    fields = spc.ChartResult.__dataclass_fields__
    for name in ("chart", "center", "sigma", "phase1", "rules", "n", "stat", "lcl", "ucl",
                 "sigma_stat", "flags", "dispersion", "upper", "lower", "limits"):  # fmt: skip
        assert name in fields
    assert hasattr(spc.ChartResult, "violations")
    assert spc.PointResult._fields[:8] == (
        "i", "n", "stat", "center", "lcl", "ucl", "z", "violations",
    )  # fmt: skip
    assert "dispersion_stat" in spc.PointResult._fields
    assert "dispersion_violations" in spc.PointResult._fields
    limits = spc.Limits.__dataclass_fields__
    assert list(limits) == [
        "chart", "center", "sigma", "nsigmas", "subgroup_size", "dispersion_center", "params",
    ]  # fmt: skip


def test_import_is_light_and_side_effect_free() -> None:
    """Importing spc computes no constants and pulls in nothing but numpy and scipy."""
    code = (
        "import sys, spc, spc.constants as c;"
        "assert c._table.cache_info().currsize == 0;"
        "bad = [m for m in ('pandas', 'pydantic', 'fastapi', 'typer', 'service', 'collector')"
        " if m in sys.modules];"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


MODULES = [
    "spc",
    "spc._attributes",
    "spc._ewma_cusum",
    "spc._variables",
    "spc.capability",
    "spc.charts",
    "spc.constants",
    "spc.limits",
    "spc.monitor",
    "spc.sigma",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0
