"""`linewatch chart`: offline analysis of a CSV file (filled in by the SPC-core work)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def chart(file: str) -> None:
        """Control chart of a CSV file."""
        raise typer.Exit(2)
