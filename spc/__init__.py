"""Statistical process control: control charts, run rules, capability and streaming monitors.

Pure numpy + scipy, no I/O. One call builds a whole chart (qcc style); a `Monitor` judges a
stream against frozen `Limits` and gives the same answers as the batch chart.

>>> import spc
>>> chart = spc.chart("imr", [10.1, 9.9, 10.0, 10.2, 9.8, 10.1, 13.0], phase1=6)
>>> chart.violations[-1]
['WE1']
"""

from spc._ewma_cusum import cusum, ewma
from spc.capability import Capability, capability
from spc.charts import CHART_KINDS, c_chart, chart, imr, np_chart, p_chart, u_chart, xbar_r, xbar_s
from spc.constants import A2, A3, B3, B4, D3, D4, E2, c4, d2, d3
from spc.errors import (
    InsufficientDataError,
    InvalidArgumentError,
    InvalidDataError,
    SpcError,
    SubgroupSizeError,
)
from spc.limits import Limits
from spc.monitor import Monitor, PointResult
from spc.result import ChartResult
from spc.rules import RULE_SETS, describe_rule, evaluate_rules, resolve_rules
from spc.sigma import SIGMA_METHODS
from spc.together import flagged_together, update_together

__all__ = [
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
