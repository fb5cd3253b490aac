"""The EWMA recursion has two paths (a scalar loop, scipy's lfilter for long series): both must
give the same bits, so a chart's flags never depend on its length."""

from __future__ import annotations

import numpy as np
import pytest

from spc import _ewma_cusum


@pytest.mark.parametrize("lam", [0.05, 0.2, 1.0])
def test_loop_and_lfilter_agree_bit_for_bit(lam: float, monkeypatch: pytest.MonkeyPatch) -> None:
    x = np.random.default_rng(7).normal(74.0, 0.01, size=_ewma_cusum._LFILTER_FROM + 5)
    filtered = _ewma_cusum._recursion(x, lam, 1.0 - lam, 74.0)
    monkeypatch.setattr(_ewma_cusum, "_LFILTER_FROM", 10**12)
    looped = _ewma_cusum._recursion(x, lam, 1.0 - lam, 74.0)
    assert np.array_equal(filtered, looped)
    assert looped[0] == lam * x[0] + (1.0 - lam) * 74.0
