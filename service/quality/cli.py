"""Quality commands for the `linewatch` CLI: ``import-defects FILE.csv``.

`register(app)` adds them; module-level imports are stdlib and typer only (the service's
database and HTTP stacks load inside the command). Bad input: one line on stderr, exit 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from service.cli import DatabaseUrl


def register(app: typer.Typer) -> None:
    @app.command("import-defects")
    def import_defects(
        file: Annotated[
            Path,
            typer.Argument(
                help="CSV: ts, line, product, defect_code, disposition[, station, "
                "lot, serial, quantity, rework_minutes, reported_by, note, source, "
                "seq]"
            ),
        ],
        url: Annotated[str | None, typer.Option(help="Service URL (with --token)")] = None,
        token: Annotated[str | None, typer.Option(help="Bearer token for --url")] = None,
        database_url: DatabaseUrl = None,
        batch: Annotated[int, typer.Option(help="Records per request")] = 5000,
        errors: Annotated[
            Path | None, typer.Option(help="Write the rejected rows here, with their error")
        ] = None,
    ) -> None:
        """Import nonconformance records from a CSV file, through the service or into the
        database; every rejected row is reported with its reason, the rest is stored."""
        from service.cli import _fail, _settings

        if not file.is_file():
            raise _fail(f"{file}: no such file")
        if batch < 1:
            raise _fail("--batch must be positive")
        if url is not None and token is None:
            raise _fail("--url needs --token")
        from service.quality import importer

        try:
            importer.check_header(file)
        except (ValueError, UnicodeDecodeError) as exc:
            raise _fail(f"{file}: {exc}") from None
        try:
            if url is not None:
                send, close = importer.http_sender(url, token or "")
            else:
                send, close = importer.db_sender(_settings(database_url), f"import:{file.name}")
            report = importer.run_import(file, send, close, batch=batch)
        except RuntimeError as exc:
            raise _fail(str(exc), 1) from None
        except UnicodeDecodeError as exc:
            raise _fail(f"{file}: not UTF-8 ({exc.reason})") from None
        importer.print_rejections(report)
        if errors is not None:
            importer.write_rejections(report, file, errors)
        typer.echo(
            f"accepted {report.accepted}, duplicates {report.duplicates}, "
            f"rejected {len(report.rejected)}"
        )
