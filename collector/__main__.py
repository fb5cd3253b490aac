"""`python -m collector --config collector.toml`: the collector alone, without the other parts.

The same command as `linewatch collect`, for edge machines that install only the collector.
"""

from __future__ import annotations

import typer

from collector.cli import OneLineErrors, collect


def main() -> None:
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command(cls=OneLineErrors)(collect)
    app()


if __name__ == "__main__":
    main()
