"""The one exception tree of `spc`.

Every error names the argument that caused it, so that the CLI and the service can pass the
message to the user unchanged (one line, no traceback).

    SpcError (ValueError)
    ├── InvalidArgumentError   a parameter is out of its domain (lambda outside (0, 1], k < 0, ...)
    ├── InvalidDataError       the data itself is unusable (NaN, counts larger than sizes, ...)
    │   └── SubgroupSizeError  a subgroup too small for the chart (size 1 on an R or S chart)
    └── InsufficientDataError  too few points or subgroups to estimate limits
"""

from __future__ import annotations

__all__ = [
    "InsufficientDataError",
    "InvalidArgumentError",
    "InvalidDataError",
    "SpcError",
    "SubgroupSizeError",
]


class SpcError(ValueError):
    """Base of every error raised by `spc`; a ValueError so generic callers can catch it."""

    def __init__(self, message: str, *, argument: str | None = None) -> None:
        super().__init__(message)
        self.argument = argument


class InvalidArgumentError(SpcError):
    """A parameter (not the data) is outside its domain."""


class InvalidDataError(SpcError):
    """The data cannot be charted as given."""


class SubgroupSizeError(InvalidDataError):
    """A subgroup is too small for the chosen chart or sigma method."""


class InsufficientDataError(SpcError):
    """Too few points to estimate center and sigma."""
