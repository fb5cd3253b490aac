"""The `linewatch` command: one typer app, each part registering its own sub-commands.

This package is the composition root: it alone may import every part. Sub-command modules
import their heavy dependencies (pandas, scipy, FastAPI, Dash, protocol libraries) inside the
command functions, and the root imports a part's module only when one of its commands runs (or
when help lists them all), so that `linewatch chart` starts in well under 0.3 s whatever the
other parts import at module level.
"""

from __future__ import annotations

import importlib
from typing import Any

import typer

from linewatch.plain_params import PlainGroup

# The module of each part whose `register(app)` adds commands, and the commands it adds: the
# names only route a command to its module without importing the others. A command missing
# here still works, because a name not found loads every part before click gives up.
PARTS: dict[str, tuple[str, ...]] = {
    "linewatch.chart_command": ("chart",),
    "service.cli": ("serve", "import", "token", "db"),
    "service.alerting.cli": ("alert",),
    "service.quality.cli": ("import-defects",),
    "collector.cli": ("collect", "simulate", "browse"),
    "dashboard.cli": ("dashboard",),
    "linewatch.demo_command": ("demo",),
}


class LazyGroup(PlainGroup):
    """The root group: loads a part's commands the first time one of them is asked for."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._loaded: dict[str, list[str]] = {}

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands:
            for module, names in PARTS.items():
                if cmd_name in names:
                    self._load(module)
            if cmd_name not in self.commands:
                self._load_all()
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: Any) -> list[str]:
        """Every part's commands, in the order of `PARTS` whatever was loaded first."""
        self._load_all()
        ordered = [name for module in PARTS for name in self._loaded[module]]
        return ordered + [name for name in super().list_commands(ctx) if name not in ordered]

    def _load_all(self) -> None:
        for module in PARTS:
            self._load(module)

    def _load(self, module_name: str) -> None:
        if module_name in self._loaded:
            return
        self._loaded[module_name] = []
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            # A part not built yet (or not installed) simply offers no commands; a module
            # missing inside a part that exists is a real error.
            missing = exc.name or ""
            if module_name == missing or module_name.startswith(missing + "."):
                return
            raise
        part = typer.Typer()
        module.register(part)
        for name, command in typer.main.get_group(part).commands.items():
            self.add_command(command, name)
            self._loaded[module_name].append(name)


app = typer.Typer(
    name="linewatch",
    cls=LazyGroup,
    help="Real-time SPC and digital quality management for shop floors.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Real-time SPC and digital quality management for shop floors."""


def main() -> None:
    app()


if __name__ == "__main__":
    main()
