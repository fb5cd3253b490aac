"""CSV backfill: rows become ingest-contract records, so both paths answer alike.

Header names the columns (any order): ``characteristic``, ``ts``, ``value`` are required
(``characteristic`` may instead come from the caller), ``subgroup``, ``lot``, ``serial``,
``source``, ``seq``, ``quality`` are optional, other columns are ignored. Numbers are parsed
here; a cell that is not a number stays a string and is rejected by the contract's rules
with its row index (0 = first data row).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

REQUIRED = ("ts", "value")
OPTIONAL = ("subgroup", "lot", "serial", "source", "seq", "quality")


def _number(text: str) -> Any:
    try:
        return float(text)
    except ValueError:
        return text


def _integer(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        return text


def _record(row: dict[str, str], default_characteristic: str | None) -> dict[str, Any]:
    record: dict[str, Any] = {
        "characteristic": (row.get("characteristic") or "").strip() or default_characteristic,
        "ts": (row.get("ts") or "").strip() or None,
        "value": _number(v) if (v := (row.get("value") or "").strip()) else None,
    }
    for name in OPTIONAL:
        cell = (row.get(name) or "").strip()
        if cell:
            record[name] = _integer(cell) if name == "seq" else cell
    return record


def iter_csv(
    stream: io.TextIOBase | Any, default_characteristic: str | None = None
) -> Iterator[dict[str, Any]]:
    reader = csv.DictReader(stream)
    header = [h.strip() for h in (reader.fieldnames or [])]
    reader.fieldnames = header
    missing = [c for c in REQUIRED if c not in header]
    if "characteristic" not in header and default_characteristic is None:
        missing.insert(0, "characteristic")
    if missing:
        raise ValueError(f"CSV header lacks column(s): {', '.join(missing)}")
    for row in reader:
        yield _record(row, default_characteristic)


def parse_csv(text: str, default_characteristic: str | None = None) -> list[dict[str, Any]]:
    """All records of a CSV text; a malformed file is a ValueError naming where it broke."""
    stream = io.StringIO(text, newline="")
    try:
        return list(iter_csv(stream, default_characteristic))
    except csv.Error as exc:
        raise ValueError(f"malformed CSV: {exc}") from None
