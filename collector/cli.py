"""`linewatch collect`: the edge collector's commands.

Module-level imports are stdlib and typer only (the CLI must start fast); the collector's
runtime, pydantic and the protocol libraries are imported inside the command.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperCommand


class OneLineErrors(TyperCommand):
    """Usage errors as one line on stderr with exit code 2 (the CLI rule for bad input)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except typer.Exit:
            raise
        except Exception as exc:  # click's UsageError (typer may vendor click)
            if not hasattr(exc, "format_message") or getattr(exc, "exit_code", 2) != 2:
                raise
            message = " ".join(str(exc.format_message()).split())
            sys.stderr.write(f"error: {message[:1].lower() + message[1:]}\n")
            raise typer.Exit(2) from None


def register(app: typer.Typer) -> None:
    app.command("collect", cls=OneLineErrors)(collect)
    # Commands of the OPC UA tools live in their own small modules (stdlib/typer at module level).
    for module, attr in (("collector.browse", "register"), ("collector.simulator.cli", "register")):
        if _module_exists(module):
            mod = importlib.import_module(module)
            hook = getattr(mod, attr, None)
            if callable(hook):
                hook(app)


def _module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def collect(
    config: Annotated[
        Path, typer.Option("--config", "-c", help="collector TOML file", show_default=False)
    ],
    check: Annotated[
        bool, typer.Option("--check", help="validate the config and exit, without network")
    ] = False,
) -> None:
    """Run an edge collector: sources -> disk buffer -> HTTP sink."""
    from collector.config import ConfigError, load_config

    try:
        cfg = load_config(config)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if check:
        from collector.check import check_config

        problems, summary = check_config(cfg)
        for problem in problems:
            typer.echo(f"warning: {problem}", err=True)
        typer.echo(summary)
        return
    from collector.app import run_until_signalled

    raise typer.Exit(run_until_signalled(cfg))
