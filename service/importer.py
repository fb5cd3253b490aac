"""`linewatch import FILE.csv`: backfill through the HTTP API (``--url``/``--token``) or straight
into the database (``--database-url``, same validation, evaluation and alarms), in batches,
with a progress bar on stderr. Rejections are reported with their CSV row (1 = first data row).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from service.csv_import import iter_csv

SHOWN_REJECTIONS = 10


def _batches(rows: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def http_sender(
    url: str, token: str, *, path: str = "/api/v1/measurements", field: str = "measurements"
) -> tuple[Callable[[list[dict[str, Any]]], dict[str, Any]], Callable[[], None]]:
    """Posts batches to a batch route of a running service (measurements, defects)."""
    import httpx

    client = httpx.Client(
        base_url=url.rstrip("/"),
        headers={"Authorization": f"Bearer {token}"},
        timeout=httpx.Timeout(120.0, connect=10.0),
    )

    def send(records: list[dict[str, Any]]) -> dict[str, Any]:
        try:
            response = client.post(path, json={field: records})
        except httpx.HTTPError as exc:
            raise RuntimeError(f"{url}: {exc}") from exc
        if response.status_code != 200:
            try:
                detail = response.json().get("detail")
            except ValueError:
                detail = response.text[:200]
            raise RuntimeError(f"{url}: HTTP {response.status_code}: {detail}")
        return response.json()  # type: ignore[no-any-return]

    return send, client.close


def _db_sender(
    settings: Any,
) -> tuple[Callable[[list[dict[str, Any]]], dict[str, Any]], Callable[[], None]]:
    from service.context import Linewatch
    from service.storage import open_store

    try:
        store = open_store(settings)
    except Exception as exc:
        raise RuntimeError(f"database: {str(exc).splitlines()[0]}") from exc
    ctx = Linewatch(settings, store)

    def send(records: list[dict[str, Any]]) -> dict[str, Any]:
        return ctx.ingest(records).public()

    def close() -> None:
        ctx.checkpoint_all()
        store.close()

    return send, close


def run_import(
    file: Path,
    *,
    url: str | None,
    token: str | None,
    settings: Any,
    characteristic: str | None,
    batch: int,
) -> dict[str, int]:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with file.open(encoding="utf-8-sig", newline="") as f:
        total = max(sum(1 for _ in f) - 1, 0)
    send, close = http_sender(url, token or "") if url else _db_sender(settings)
    totals = {"accepted": 0, "duplicates": 0, "rejected": 0}
    shown = 0
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
            offset = 0
            for records in _batches(iter_csv(f, characteristic), batch):
                answer = send(records)
                totals["accepted"] += answer["accepted"]
                totals["duplicates"] += answer["duplicates"]
                totals["rejected"] += len(answer["rejected"])
                for rejection in answer["rejected"]:
                    if shown < SHOWN_REJECTIONS:
                        console.print(
                            f"row {offset + rejection['index'] + 1}: {rejection['error']}",
                            highlight=False,
                        )
                        shown += 1
                offset += len(records)
                progress.update(task, completed=offset)
    finally:
        close()
    if totals["rejected"] > shown:
        print(f"... and {totals['rejected'] - shown} more rejected rows", file=sys.stderr)
    return totals
