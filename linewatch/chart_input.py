"""Reading a CSV file into the data of one control chart, for `linewatch chart`.

Standard library only (the csv module, no pandas), so that the command starts fast and every
problem can be reported as one line naming the file, the column and the line. Numbers are
checked here, before `spc` sees them, because only here are the file's lines still known.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

VARIABLE_KINDS = ("imr", "xbar-r", "xbar-s", "ewma", "cusum")
ATTRIBUTE_KINDS = ("p", "np", "c", "u")
KINDS = ("imr", "xbar-r", "xbar-s", "p", "np", "c", "u", "ewma", "cusum")
SUBGROUPED_KINDS = ("xbar-r", "xbar-s")  # need subgroups of at least 2
MAY_SUBGROUP_KINDS = ("xbar-r", "xbar-s", "ewma", "cusum")


class InputError(Exception):
    """Bad input from the command line or the file; the message is one line for the user."""


@dataclass(frozen=True)
class Table:
    """A CSV file as text: header, data rows and the file line of each data row."""

    name: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    lines: tuple[int, ...]

    def column(self, name: str) -> list[str]:
        try:
            j = self.columns.index(name)
        except ValueError:
            raise InputError(
                f"column '{name}' not found in {self.name} (columns: {', '.join(self.columns)})"
            ) from None
        return [row[j] for row in self.rows]

    def numbers(self, name: str) -> list[float]:
        """The column as finite floats, naming the line of the first bad cell."""
        cells = self.column(name)
        try:
            values = list(map(float, cells))
        except ValueError:
            values = []
        if len(values) == len(cells) and all(map(math.isfinite, values)):
            return values
        for i, cell in enumerate(cells):
            where = f"in column '{name}' at line {self.lines[i]} of {self.name} (data row {i + 1})"
            try:
                number = float(cell)
            except ValueError:
                shown = "empty value" if not cell.strip() else f"non-numeric value '{cell}'"
                raise InputError(f"{shown} {where}") from None
            if not math.isfinite(number):
                raise InputError(f"value '{cell}' {where} is not a finite number")
        raise AssertionError("unreachable")  # pragma: no cover


def read_table(path: Path) -> Table:
    """Parse a CSV file with a header row; blank lines are skipped."""
    name = path.name
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header: list[str] | None = None
            rows: list[tuple[str, ...]] = []
            lines: list[int] = []
            for record in reader:
                if not record or all(not cell.strip() for cell in record):
                    continue
                if header is None:
                    header = [cell.strip() for cell in record]
                    _check_header(header, name)
                    continue
                if len(record) != len(header):
                    raise InputError(
                        f"line {reader.line_num} of {name} has {len(record)} fields "
                        f"but the header has {len(header)}"
                    )
                rows.append(tuple(cell.strip() for cell in record))
                lines.append(reader.line_num)
    except FileNotFoundError:
        raise InputError(f"file '{path}' not found") from None
    except IsADirectoryError:
        raise InputError(f"'{path}' is a directory, not a CSV file") from None
    except PermissionError:
        raise InputError(f"cannot read '{path}': permission denied") from None
    except UnicodeDecodeError:
        raise InputError(f"{name} is not UTF-8 text") from None
    except csv.Error as exc:
        raise InputError(f"{name} is not valid CSV: {exc}") from None
    if header is None:
        raise InputError(f"{name} is empty")
    if not rows:
        raise InputError(f"{name} has a header but no data rows")
    return Table(name, tuple(header), tuple(rows), tuple(lines))


def _check_header(header: list[str], name: str) -> None:
    seen: set[str] = set()
    for column in header:
        if not column:
            raise InputError(f"{name} has an empty column name in its header")
        if column in seen:
            raise InputError(f"{name} has the column '{column}' twice")
        seen.add(column)


@dataclass(frozen=True)
class ChartData:
    """What `spc.chart` needs, plus the raw values behind each point for capability.

    ``groups`` holds, per point, the individual values (one for individuals charts, the
    subgroup for subgrouped ones); it is empty for attribute charts.
    """

    values: list[float] | None  # individuals
    groups: list[list[float]] | None  # subgroups, in order of first appearance
    counts: list[float] | None
    sizes: list[float] | None
    labels: list[str]

    @property
    def n_points(self) -> int:
        if self.groups is not None:
            return len(self.groups)
        if self.values is not None:
            return len(self.values)
        assert self.counts is not None
        return len(self.counts)

    def point_values(self, k: int) -> list[float]:
        """Individual values of the first k points (the phase I data of a variable chart)."""
        if self.groups is not None:
            return [x for group in self.groups[:k] for x in group]
        assert self.values is not None
        return self.values[:k]


def build_chart_data(
    table: Table,
    kind: str,
    *,
    value: str | None,
    subgroup: str | None,
    subgroup_size: int | None,
    count: str | None,
    size: str | None,
) -> ChartData:
    """Select and check the columns the chart kind needs (see `linewatch chart --help`)."""
    if kind in ATTRIBUTE_KINDS:
        return _attribute_data(table, kind, value, subgroup, subgroup_size, count, size)
    for flag, given in (("--count", count), ("--size", size)):
        if given is not None:
            raise InputError(f"{flag} applies to attribute charts (p, np, c, u), not {kind}")
    column = value if value is not None else _only_column(table, kind)
    values = table.numbers(column)
    if subgroup is not None and subgroup_size is not None:
        raise InputError("give either --subgroup or --subgroup-size, not both")
    if subgroup is None and subgroup_size is None:
        if kind in SUBGROUPED_KINDS:
            raise InputError(f"{kind} needs subgroups: give --subgroup COL or --subgroup-size N")
        return ChartData(values, None, None, None, [str(i + 1) for i in range(len(values))])
    if kind not in MAY_SUBGROUP_KINDS:
        raise InputError(
            f"{kind} charts individual values; --subgroup/--subgroup-size do not apply"
        )
    if subgroup is not None:
        labels, groups = _group_by_column(table.column(subgroup), values)
    else:
        assert subgroup_size is not None
        labels, groups = _group_consecutive(values, subgroup_size, table.name)
    if kind in SUBGROUPED_KINDS:
        for label, group in zip(labels, groups, strict=True):
            if len(group) < 2:
                raise InputError(
                    f"subgroup '{label}' has only 1 value; {kind} needs at least 2 per subgroup"
                )
    return ChartData(None, groups, None, None, labels)


def _only_column(table: Table, kind: str) -> str:
    if len(table.columns) == 1:
        return table.columns[0]
    raise InputError(
        f"{kind} needs --value COL naming the measurement column of {table.name} "
        f"(columns: {', '.join(table.columns)})"
    )


def _group_by_column(
    keys: Sequence[str], values: Sequence[float]
) -> tuple[list[str], list[list[float]]]:
    groups: dict[str, list[float]] = {}
    for key, x in zip(keys, values, strict=True):
        group = groups.get(key)
        if group is None:
            groups[key] = [x]
        else:
            group.append(x)
    return list(groups), list(groups.values())


def _group_consecutive(
    values: Sequence[float], n: int, name: str
) -> tuple[list[str], list[list[float]]]:
    if n < 1:
        raise InputError(f"--subgroup-size must be at least 1, got {n}")
    left_over = len(values) % n
    if left_over:
        raise InputError(
            f"the {len(values)} values of {name} do not split into subgroups of {n} "
            f"({left_over} left over); use --subgroup COL for unequal subgroups"
        )
    groups = [list(values[i : i + n]) for i in range(0, len(values), n)]
    return [str(i + 1) for i in range(len(groups))], groups


def _attribute_data(
    table: Table,
    kind: str,
    value: str | None,
    subgroup: str | None,
    subgroup_size: int | None,
    count: str | None,
    size: str | None,
) -> ChartData:
    for flag, given in (
        ("--value", value),
        ("--subgroup", subgroup),
        ("--subgroup-size", subgroup_size),
    ):
        if given is not None:
            raise InputError(f"{flag} does not apply to {kind} charts; use --count and --size")
    if count is None:
        needs = "--count COL" if kind == "c" else "--count COL and --size COL"
        raise InputError(f"{kind} chart needs {needs} (columns: {', '.join(table.columns)})")
    if size is None and kind != "c":
        raise InputError(
            f"{kind} chart needs --size COL, the sample size of each point "
            f"(columns: {', '.join(table.columns)})"
        )
    counts = table.numbers(count)
    sizes = table.numbers(size) if size is not None else None
    for i, c in enumerate(counts):
        if c < 0:
            raise InputError(
                f"negative count {_fmt(c)} in column '{count}' at line {table.lines[i]} "
                f"of {table.name}"
            )
        if sizes is not None:
            if sizes[i] <= 0:
                raise InputError(
                    f"size {_fmt(sizes[i])} in column '{size}' at line {table.lines[i]} "
                    f"of {table.name} must be positive"
                )
            if kind in ("p", "np") and c > sizes[i]:
                raise InputError(
                    f"count {_fmt(c)} is larger than size {_fmt(sizes[i])} at line "
                    f"{table.lines[i]} of {table.name} (columns '{count}' and '{size}')"
                )
    labels = [str(i + 1) for i in range(len(counts))]
    return ChartData(None, None, counts, sizes, labels)


def _fmt(x: float) -> str:
    return str(int(x)) if x.is_integer() else repr(x)
