"""CSV rows to defect records: the header names the columns, in any order.

Required: ``ts``, ``line``, ``product``, ``defect_code``, ``disposition``. Optional:
``station``, ``lot``, ``serial``, ``quantity`` (default 1), ``rework_minutes`` (default 0),
``reported_by``, ``note``, ``source``, ``seq``; other columns are ignored. Numbers are parsed
here; a cell that is not a number stays text and is rejected by the record checks with its
reason. A row whose field count differs from the header's is broken: reported, not sent.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TextIO

REQUIRED = ("ts", "line", "product", "defect_code", "disposition")
OPTIONAL = (
    "station",
    "lot",
    "serial",
    "quantity",
    "rework_minutes",
    "reported_by",
    "note",
    "source",
    "seq",
)
INTEGERS = ("quantity", "seq")
FLOATS = ("rework_minutes",)


@dataclass(frozen=True)
class CsvRow:
    row: int  # 1 = first data row
    line: int  # physical line where the row ends (1 = header)
    cells: list[str]
    record: dict[str, Any] | None  # None: broken row, see error
    error: str | None = None


def _number(text: str, kind: type) -> Any:
    try:
        return kind(text)
    except ValueError:
        return text


def read_header(reader: Any) -> list[str]:
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise ValueError("the CSV file is empty") from None
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise ValueError(f"CSV header lacks column(s): {', '.join(missing)}")
    return header


def iter_rows(stream: TextIO) -> Iterator[CsvRow]:
    """Rows of a defects CSV; raises ValueError for a file without the required columns."""
    reader = csv.reader(stream)
    header = read_header(reader)
    row = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            row += 1
            yield CsvRow(row, reader.line_num, [], None, f"unreadable CSV: {exc}")
            continue
        if not any(c.strip() for c in cells):
            continue
        row += 1
        if len(cells) != len(header):
            yield CsvRow(
                row,
                reader.line_num,
                cells,
                None,
                f"row has {len(cells)} fields, the header has {len(header)}",
            )
            continue
        record: dict[str, Any] = {}
        for name, cell in zip(header, cells, strict=True):
            cell = cell.strip()
            if (name not in REQUIRED and name not in OPTIONAL) or not cell:
                continue
            if name in INTEGERS:
                record[name] = _number(cell, int)
            elif name in FLOATS:
                record[name] = _number(cell, float)
            else:
                record[name] = cell
        yield CsvRow(row, reader.line_num, cells, record)
