"""Turning user input into validated float arrays and subgroup statistics.

Every subgroup sum here is taken in one fixed order (left to right within the subgroup), whether
the subgroups come as a 2-D array, as ragged lists, or one at a time to a streaming monitor. numpy's
own reductions pick pairwise or unrolled orders by shape, and their last-bit differences would
make streaming and batch disagree on points that sit exactly on a limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import NDArray

from spc.errors import InsufficientDataError, InvalidArgumentError, InvalidDataError

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]


def as_float_array(data: Any, argument: str, *, ndim: int | None = 1) -> FloatArray:
    """A float64 copy with only finite values, or an error naming `argument`.

    A copy, so that results never alias (and never freeze) the caller's array.
    """
    try:
        array = np.array(data, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidDataError(f"{argument} must be numeric: {exc}", argument=argument) from exc
    if ndim is not None and array.ndim != ndim:
        raise InvalidDataError(
            f"{argument} must be {ndim}-dimensional, got shape {array.shape}", argument=argument
        )
    if not np.all(np.isfinite(array)):
        bad = int(np.flatnonzero(~np.isfinite(array.ravel()))[0])
        raise InvalidDataError(
            f"{argument} contains a NaN or infinite value (position {bad})", argument=argument
        )
    return array


def require_points(count: int, minimum: int, argument: str = "data") -> None:
    if count < minimum:
        raise InsufficientDataError(
            f"{argument} has {count} point(s); at least {minimum} are needed", argument=argument
        )


class Subgroups:
    """Rational subgroups of individual values with their means, ranges and standard deviations.

    Stored as a zero-padded matrix (one row per subgroup) plus the sizes, so that equal and
    unequal subgroups share one code path; statistics are computed on first use.
    """

    def __init__(self, matrix: FloatArray, sizes: IntArray) -> None:
        self.matrix = matrix
        self.sizes = sizes
        self.equal = bool(sizes.size == 0 or np.all(sizes == matrix.shape[1]))

    @classmethod
    def from_rows(cls, rows: Sequence[Sequence[float]] | FloatArray, argument: str) -> Subgroups:
        """Subgroups from a 2-D array or a list of (possibly unequal) sequences."""
        matrix: FloatArray | None
        try:
            matrix = np.asarray(rows, dtype=np.float64)
        except ValueError:
            matrix = None  # ragged
        except TypeError as exc:
            raise InvalidDataError(f"{argument} must be numeric: {exc}", argument=argument) from exc
        if matrix is not None and matrix.ndim == 2:
            checked = as_float_array(matrix, argument, ndim=2)
            return cls(checked, np.full(checked.shape[0], checked.shape[1], dtype=np.int64))
        if matrix is not None and matrix.ndim == 1:
            raise InvalidArgumentError(
                "sizes is required when data is a flat sequence of values "
                "(or pass a 2-D array / a list of subgroups)",
                argument="sizes",
            )
        if matrix is not None:
            raise InvalidDataError(
                f"{argument} must be a list of subgroups, got shape {matrix.shape}",
                argument=argument,
            )
        groups = [as_float_array(group, argument, ndim=1) for group in rows]
        sizes = np.array([g.shape[0] for g in groups], dtype=np.int64)
        if np.any(sizes == 0):
            raise InvalidDataError(
                f"{argument} has an empty subgroup (position {int(np.argmin(sizes))})",
                argument=argument,
            )
        flat = np.concatenate(groups) if groups else np.empty(0)
        return cls.from_flat(flat, sizes)

    @classmethod
    def from_flat(cls, values: FloatArray, sizes: IntArray) -> Subgroups:
        """Consecutive runs of `values` of the given sizes (sizes ≥ 1, summing to len(values))."""
        width = int(sizes.max()) if sizes.size else 0
        matrix = np.zeros((sizes.size, width), dtype=np.float64)
        row = np.repeat(np.arange(sizes.size), sizes)
        starts = np.cumsum(sizes) - sizes
        column = np.arange(values.size) - np.repeat(starts, sizes)
        matrix[row, column] = values
        return cls(matrix, sizes)

    @property
    def count(self) -> int:
        return int(self.sizes.size)

    def head(self, k: int) -> Subgroups:
        """The first k subgroups; statistics already computed are shared, not recomputed."""
        child = Subgroups(self.matrix[:k], self.sizes[:k])
        for name in ("means", "ranges", "sds"):
            if name in self.__dict__:
                child.__dict__[name] = self.__dict__[name][:k]
        return child

    def _mask(self) -> BoolArray:
        return np.arange(self.matrix.shape[1])[None, :] < self.sizes[:, None]

    @cached_property
    def _columns(self) -> FloatArray:
        """Position j of every subgroup, contiguous: the loops below run over n positions,
        each step vectorized over all subgroups (numpy's axis=1 reductions are slow on
        short rows)."""
        columns: FloatArray = np.ascontiguousarray(self.matrix.T)
        return columns

    def _valid(self, j: int) -> BoolArray | None:
        """Which subgroups have a value at position j (None: all of them)."""
        return None if self.equal else self.sizes > j

    @cached_property
    def means(self) -> FloatArray:
        if self.matrix.shape[1] == 0:
            return np.zeros(self.count)
        columns = self._columns
        total = columns[0].copy()
        for column in columns[1:]:
            total += column  # zero padding adds nothing
        result: FloatArray = total / self.sizes
        return result

    @cached_property
    def ranges(self) -> FloatArray:
        columns = self._columns
        high = columns[0].copy()
        low = columns[0].copy()
        for j in range(1, columns.shape[0]):
            valid = self._valid(j)
            if valid is None:
                np.maximum(high, columns[j], out=high)
                np.minimum(low, columns[j], out=low)
            else:
                np.maximum(high, columns[j], out=high, where=valid)
                np.minimum(low, columns[j], out=low, where=valid)
        spread: FloatArray = high - low
        return spread

    @cached_property
    def sds(self) -> FloatArray:
        """Sample standard deviations (n − 1); NaN for subgroups of one."""
        columns = self._columns
        means = self.means
        squares = np.zeros(self.count)
        for j in range(columns.shape[0]):
            deviation = columns[j] - means
            deviation *= deviation
            valid = self._valid(j)
            if valid is not None:
                deviation[~valid] = 0.0
            squares += deviation
        with np.errstate(divide="ignore", invalid="ignore"):
            result: FloatArray = np.sqrt(squares / (self.sizes - 1))
        return result

    @cached_property
    def values(self) -> FloatArray:
        """All individual values, subgroup after subgroup."""
        if self.equal:
            result: FloatArray = self.matrix.ravel()
            return result
        flat: FloatArray = self.matrix[self._mask()]
        return flat


def as_subgroups(data: Any, sizes: Any, *, argument: str = "data") -> Subgroups:
    """Subgroups from a 2-D array, a list of sequences, or flat values with `sizes`.

    `sizes` may be one integer (consecutive subgroups of that size) or one integer per subgroup.
    """
    if sizes is None:
        groups = Subgroups.from_rows(data, argument)
        if groups.count and groups.matrix.shape[1] == 0:
            raise InvalidDataError(f"{argument} has empty subgroups", argument=argument)
        return groups
    values = as_float_array(data, argument, ndim=1)
    size_array = as_sizes(sizes, argument="sizes", integer=True)
    if size_array.ndim == 0:
        step = int(size_array)
        if values.size % step:
            raise InvalidArgumentError(
                f"{values.size} values do not split into subgroups of {step}", argument="sizes"
            )
        return Subgroups(values.reshape(-1, step), np.full(values.size // step, step, np.int64))
    counts = size_array.astype(np.int64)
    if int(counts.sum()) != values.size:
        raise InvalidArgumentError(
            f"sizes add up to {int(counts.sum())} but there are {values.size} values",
            argument="sizes",
        )
    return Subgroups.from_flat(values, counts)


def as_sizes(sizes: Any, *, argument: str = "sizes", integer: bool = False) -> FloatArray:
    """Positive finite sample sizes (a scalar or a 1-D array); whole numbers when `integer`."""
    array = as_float_array(sizes, argument, ndim=None)
    if array.ndim > 1:
        raise InvalidDataError(
            f"{argument} must be a number or one number per point, got shape {array.shape}",
            argument=argument,
        )
    if np.any(array <= 0):
        raise InvalidDataError(f"{argument} must be positive", argument=argument)
    if integer and np.any(array != np.round(array)):
        raise InvalidDataError(f"{argument} must be whole numbers", argument=argument)
    return array


def broadcast_sizes(sizes: FloatArray, count: int, argument: str = "sizes") -> FloatArray:
    if sizes.ndim == 0:
        return np.full(count, float(sizes))
    if sizes.shape[0] != count:
        raise InvalidArgumentError(
            f"{argument} has {sizes.shape[0]} values for {count} points", argument=argument
        )
    return sizes
