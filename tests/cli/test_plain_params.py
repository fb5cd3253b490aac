"""PlainGroup/PlainCommand convert str/int/float/bool options without importing Pydantic."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import sys
    import typer
    from typer.testing import CliRunner
    from linewatch.plain_params import PlainCommand, PlainGroup

    app = typer.Typer(cls=PlainGroup)

    @app.callback()
    def root() -> None: ...

    @app.command(cls=PlainCommand)
    def run(name: str, n: int = 1, x: float | None = None, loud: bool = False) -> None:
        print(repr((name, n, x, loud)))

    runner = CliRunner()
    ok = runner.invoke(app, ["run", "bob", "--n", "3", "--x", "2.5", "--loud"])
    bad = runner.invoke(app, ["run", "bob", "--n", "three"])
    print(ok.stdout.strip())
    print(bad.exit_code, "'three' is not an integer" in bad.output)
    print("pydantic" in sys.modules)
    """
)


def test_plain_options_convert_without_pydantic() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, check=True
    )
    assert proc.stdout.splitlines() == ["('bob', 3, 2.5, True)", "2 True", "False"]
