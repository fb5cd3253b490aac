"""`linewatch chart`: a control chart of a CSV file, as a table or as the contract JSON.

Module-level imports are stdlib and typer only; numpy, `spc` and rich are imported inside the
command so that `linewatch chart` on a small file starts in well under 0.3 s. Bad input is one
line on stderr and exit code 2, never a traceback (ARCHITECTURE.md, "CLI chart contract").
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from linewatch.chart_input import KINDS, InputError
from linewatch.plain_params import PlainCommand

HELP = """Control chart of a CSV file (header row, comma separated).

Variable charts (imr, xbar-r, xbar-s, ewma, cusum) read --value COL; it may be left out only
when the file has a single column. xbar-r and xbar-s need subgroups: --subgroup COL groups rows
by that column in order of first appearance, --subgroup-size N takes N consecutive rows.
ewma and cusum chart individual values, or subgroup means when subgroups are given.
Attribute charts: p and np take --count (defectives) and --size (sample size); c takes --count;
u takes --count (defects) and --size (inspection units).

--phase1 K: the first K points (subgroups) estimate center and sigma and every point is judged
against those limits (default: all points). --lsl/--usl add process capability of the phase I
data. --format table (default) lists the points, violations highlighted (only the points with
violations when there are more than 200); --format json prints the chart JSON.

Example: linewatch chart pistonrings.csv --type xbar-r --value diameter --subgroup sample
--phase1 25 --lsl 73.95 --usl 74.05
"""


class _ChartCommand(PlainCommand):
    """Usage errors (unknown option, bad number, missing --type) as one line on stderr."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except typer.Exit:
            raise
        except Exception as exc:  # click's UsageError, from typer's vendored click or not
            if not hasattr(exc, "format_message") or getattr(exc, "exit_code", 2) != 2:
                raise
            message = exc.format_message()
            _fail(message[:1].lower() + message[1:])


def _fail(message: str) -> NoReturn:
    """One line on stderr, exit code 2: the contract for bad input."""
    sys.stderr.write("error: " + " ".join(message.split()) + "\n")
    sys.stderr.flush()
    raise typer.Exit(2)


def register(app: typer.Typer) -> None:
    """Add `linewatch chart` to the root command."""
    app.command("chart", cls=_ChartCommand, help=HELP)(chart)


def chart(
    file: Annotated[
        str, typer.Argument(metavar="FILE", help="CSV file with a header row.", show_default=False)
    ],
    type_: Annotated[
        str,
        typer.Option("--type", help=f"Chart: {', '.join(KINDS)}.", show_default=False),
    ],
    value: Annotated[
        str | None, typer.Option("--value", help="Measurement column (variable charts).")
    ] = None,
    subgroup: Annotated[
        str | None, typer.Option("--subgroup", help="Column whose values name the subgroups.")
    ] = None,
    subgroup_size: Annotated[
        int | None, typer.Option("--subgroup-size", help="Subgroups of N consecutive rows.")
    ] = None,
    count: Annotated[
        str | None, typer.Option("--count", help="Defectives (p, np) or defects (c, u) column.")
    ] = None,
    size: Annotated[
        str | None, typer.Option("--size", help="Sample size (p, np) or inspection units (u).")
    ] = None,
    phase1: Annotated[
        int | None,
        typer.Option("--phase1", help="The first K points set the limits (default: all)."),
    ] = None,
    rules: Annotated[
        str, typer.Option("--rules", help="western-electric, nelson, none or e.g. WE1,N3.")
    ] = "western-electric",
    lsl: Annotated[float | None, typer.Option("--lsl", help="Lower specification limit.")] = None,
    usl: Annotated[float | None, typer.Option("--usl", help="Upper specification limit.")] = None,
    target: Annotated[
        float | None, typer.Option("--target", help="Target (default: spec midpoint).")
    ] = None,
    lam: Annotated[
        float | None, typer.Option("--lambda", help="EWMA weight (default: 0.2).")
    ] = None,
    big_l: Annotated[
        float | None, typer.Option("--L", help="EWMA limit width in sigmas (default: 3).")
    ] = None,
    k: Annotated[
        float | None, typer.Option("--k", help="CUSUM reference value in sigmas (default: 0.5).")
    ] = None,
    h: Annotated[
        float | None, typer.Option("--h", help="CUSUM decision interval in sigmas (default: 5).")
    ] = None,
    head_start: Annotated[
        float | None, typer.Option("--head-start", help="CUSUM head start (default: 0).")
    ] = None,
    sigma_method: Annotated[
        str | None,
        typer.Option(
            "--sigma-method",
            help="r-bar, s-bar, pooled, mvlue-r, mvlue-s, mr or sd (default: the chart's).",
        ),
    ] = None,
    format_: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    """Control chart of a CSV file."""
    from linewatch.chart_build import ChartOptions, build_document

    options = ChartOptions(
        file=Path(file),
        kind=type_,
        value=value,
        subgroup=subgroup,
        subgroup_size=subgroup_size,
        count=count,
        size=size,
        phase1=phase1,
        rules=rules,
        lsl=lsl,
        usl=usl,
        target=target,
        lam=lam,
        big_l=big_l,
        k=k,
        h=h,
        head_start=head_start,
        sigma_method=sigma_method,
        format=format_,
    )
    try:
        document = build_document(options)
    except InputError as exc:
        _fail(str(exc))
    from linewatch.chart_output import print_json, print_table

    if options.format == "json":
        print_json(document)
    else:
        print_table(document)
