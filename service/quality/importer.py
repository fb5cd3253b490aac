"""`linewatch import-defects FILE.csv`: through the HTTP API (``--url``/``--token``) or straight
into the database (``--database-url``), in batches, with a progress bar and a per-row error
report on stderr (``row N (line M): field: why``); ``--errors FILE`` also writes the rejected
rows with an ``error`` column, ready to fix and import again.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from service.quality.csv_records import CsvRow, iter_rows, read_header

Sender = Callable[[list[dict[str, Any]]], dict[str, Any]]
SHOWN = 1000


@dataclass
class ImportReport:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[tuple[CsvRow, str]] = field(default_factory=list)


def http_sender(url: str, token: str) -> tuple[Sender, Callable[[], None]]:
    from service.importer import http_sender as batch_sender

    return batch_sender(url, token, path="/api/v1/defects", field="defects")


def db_sender(settings: Any, actor: str) -> tuple[Sender, Callable[[], None]]:
    from service.quality.recording import Recorder
    from service.storage import open_store

    try:
        store = open_store(settings)
    except Exception as exc:
        raise RuntimeError(f"database: {str(exc).splitlines()[0]}") from exc
    recorder = Recorder.for_settings(store, settings)

    def send(records: list[dict[str, Any]]) -> dict[str, Any]:
        return recorder.record_defects(records, actor).public()

    return send, store.close


def check_header(file: Path) -> None:
    with file.open(encoding="utf-8-sig", newline="") as f:
        read_header(csv.reader(f))


def _batches(rows: Iterator[CsvRow], size: int, report: ImportReport) -> Iterator[list[CsvRow]]:
    chunk: list[CsvRow] = []
    for row in rows:
        if row.record is None:
            report.rejected.append((row, row.error or "broken row"))
            continue
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def run_import(file: Path, send: Sender, close: Callable[[], None], *, batch: int) -> ImportReport:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with file.open(encoding="utf-8-sig", newline="") as f:
        total = max(sum(1 for _ in f) - 1, 0)
    report = ImportReport()
    console = Console(stderr=True)
    try:
        with (
            file.open(encoding="utf-8-sig", newline="") as f,
            Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=console,
                transient=not console.is_terminal,
            ) as progress,
        ):
            task = progress.add_task(file.name, total=total)
            for rows in _batches(iter_rows(f), batch, report):
                answer = send([r.record for r in rows])  # type: ignore[misc]
                report.accepted += answer["accepted"]
                report.duplicates += answer["duplicates"]
                for rejection in answer["rejected"]:
                    report.rejected.append((rows[rejection["index"]], rejection["error"]))
                progress.update(task, completed=rows[-1].line - 1)
            progress.update(task, completed=total)
    finally:
        close()
    report.rejected.sort(key=lambda r: r[0].row)
    return report


def print_rejections(report: ImportReport) -> None:
    import sys

    for row, error in report.rejected[:SHOWN]:
        print(f"row {row.row} (line {row.line}): {error}", file=sys.stderr)
    if len(report.rejected) > SHOWN:
        print(f"... and {len(report.rejected) - SHOWN} more rejected rows", file=sys.stderr)


def write_rejections(report: ImportReport, source: Path, target: Path) -> None:
    with source.open(encoding="utf-8-sig", newline="") as f:
        header = [h.strip() for h in next(csv.reader(f))]
    with target.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["row", "error", *header])
        for row, error in report.rejected:
            writer.writerow([row.row, error, *row.cells])
