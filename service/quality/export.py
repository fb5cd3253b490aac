"""CSV and XLSX of any quality query, for the monthly quality report.

Every query route takes ``format=json|csv|xlsx`` (default json). CSV holds the rows (header
first, timestamps ISO 8601 UTC, empty cells for nulls). XLSX holds the rows on a sheet named
after the query, as numbers and dates (UTC, Excel has no time zones), and a ``query`` sheet
with the parameters and totals, so a report file says what it shows.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, Literal

from fastapi import Response

Format = Literal["json", "csv", "xlsx"]
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _text(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return ";".join(str(v) for v in value)
    return value


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, list | tuple):
        return ";".join(str(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return value


def to_csv(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_text(row.get(c)) for c in columns])
    return out.getvalue()


def to_xlsx(
    rows: Sequence[dict[str, Any]], columns: Sequence[str], sheet: str, meta: dict[str, Any]
) -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    data = book.create_sheet(sheet[:31])
    data.append(list(columns))
    for row in rows:
        data.append([_cell(row.get(c)) for c in columns])
    query = book.create_sheet("query")
    query.append(["parameter", "value"])
    for key, value in meta.items():
        if isinstance(value, list):
            for i, item in enumerate(value):
                query.append([f"{key}[{i}]", _cell(item)])
        else:
            query.append([key, _cell(value)])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def respond(
    fmt: Format,
    body: dict[str, Any] | list[dict[str, Any]],
    *,
    rows: Sequence[dict[str, Any]],
    columns: Sequence[str],
    name: str,
) -> Any:
    """`body` as JSON, or `rows` as a CSV or XLSX attachment named after the query."""
    if fmt == "json":
        return body
    meta = (
        {k: v for k, v in body.items() if k not in ("rows", "items")}
        if isinstance(body, dict)
        else {}
    )
    stamp = "_".join(
        v.strftime("%Y-%m-%d") for k in ("from", "to") if isinstance(v := meta.get(k), datetime)
    )
    filename = f"{name}_{stamp}" if stamp else name
    if fmt == "csv":
        return Response(
            to_csv(rows, columns),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'},
        )
    return Response(
        to_xlsx(rows, columns, name, meta),
        media_type=XLSX_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}.xlsx"'},
    )
