"""`linewatch chart` bad input: one line on stderr naming the problem, exit 2, empty stdout."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from linewatch.cli import app

DATA = Path(__file__).parents[1] / "data"
PISTONRINGS = str(DATA / "pistonrings.csv")
ORANGEJUICE = str(DATA / "orangejuice.csv")
VISCOSITY = str(DATA / "viscosity.csv")
LINEWATCH = Path(sys.executable).parent / "linewatch"

runner = CliRunner()


def run_error(args: list[str]) -> str:
    """Run in-process, check the error contract, return the one stderr line."""
    result = runner.invoke(app, ["chart", *args])
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr
    return lines[0]


def write(tmp_path: Path, text: str, name: str = "data.csv") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    line = run_error([str(missing), "--type", "imr"])
    assert line == f"error: file '{missing}' not found"


def test_missing_column_lists_the_columns() -> None:
    line = run_error([PISTONRINGS, "--type", "xbar-r", "--value", "diam", "--subgroup", "sample"])
    assert line == (
        "error: column 'diam' not found in pistonrings.csv "
        "(columns: row, sample, obs, diameter, trial)"
    )


def test_missing_subgroup_column() -> None:
    line = run_error([PISTONRINGS, "--type", "xbar-r", "--value", "diameter", "--subgroup", "s"])
    assert "column 's' not found in pistonrings.csv" in line


def test_non_numeric_value_names_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "batch,visc\n1,34.1\n2,abc\n3,33.9\n")
    line = run_error([path, "--type", "imr", "--value", "visc"])
    assert (
        line == "error: non-numeric value 'abc' in column 'visc' at line 3 of data.csv (data row 2)"
    )


def test_empty_and_non_finite_cells(tmp_path: Path) -> None:
    path = write(tmp_path, "i,x\n1,1\n\n2,2\n3,\n")  # the blank line is skipped
    assert "empty value in column 'x' at line 5" in run_error(
        [path, "--type", "imr", "--value", "x"]
    )
    path = write(tmp_path, "x\n1\ninf\n3\n")
    assert "value 'inf' in column 'x' at line 3" in run_error([path, "--type", "imr"])
    path = write(tmp_path, "x\n1\nnan\n3\n")
    assert "is not a finite number" in run_error([path, "--type", "imr"])


def test_subgroup_of_size_one_on_xbar(tmp_path: Path) -> None:
    path = write(tmp_path, "g,x\n1,1.0\n1,2.0\n2,3.0\n3,1.5\n3,1.7\n")
    line = run_error([path, "--type", "xbar-r", "--value", "x", "--subgroup", "g"])
    assert line == "error: subgroup '2' has only 1 value; xbar-r needs at least 2 per subgroup"
    line = run_error([path, "--type", "xbar-s", "--value", "x", "--subgroup-size", "1"])
    assert "subgroup '1' has only 1 value; xbar-s" in line


def test_count_larger_than_size(tmp_path: Path) -> None:
    path = write(tmp_path, "d,n\n3,50\n51,50\n")
    line = run_error([path, "--type", "p", "--count", "d", "--size", "n"])
    assert (
        line == "error: count 51 is larger than size 50 at line 3 of data.csv (columns 'd' and 'n')"
    )
    assert "larger than size" in run_error([path, "--type", "np", "--count", "d", "--size", "n"])


def test_negative_count_and_non_positive_size(tmp_path: Path) -> None:
    path = write(tmp_path, "d,n\n3,50\n-1,50\n")
    assert "negative count -1" in run_error([path, "--type", "c", "--count", "d"])
    path = write(tmp_path, "d,n\n3,0\n")
    assert "size 0 in column 'n' at line 2" in run_error(
        [path, "--type", "u", "--count", "d", "--size", "n"]
    )


def test_bad_type() -> None:
    line = run_error([PISTONRINGS, "--type", "xbar", "--value", "diameter"])
    assert line == (
        "error: unknown chart type 'xbar' "
        "(choose from imr, xbar-r, xbar-s, p, np, c, u, ewma, cusum)"
    )


def test_bad_format() -> None:
    line = run_error([VISCOSITY, "--type", "imr", "--value", "viscosity", "--format", "csv"])
    assert "unknown format 'csv'" in line


def test_phase1_larger_than_the_data() -> None:
    line = run_error(
        [
            PISTONRINGS,
            "--type",
            "xbar-r",
            "--value",
            "diameter",
            "--subgroup",
            "sample",
            "--phase1",
            "41",
        ]
    )
    assert line == "error: --phase1 41 is larger than the data (40 subgroups in pistonrings.csv)"
    line = run_error([VISCOSITY, "--type", "imr", "--value", "viscosity", "--phase1", "36"])
    assert line == "error: --phase1 36 is larger than the data (35 points in viscosity.csv)"
    assert "--phase1 must be at least 1" in run_error(
        [VISCOSITY, "--type", "imr", "--value", "viscosity", "--phase1", "0"]
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([VISCOSITY, "--type", "imr", "--value", "viscosity", "--rules", "bogus"],
         "error: --rules: unknown rule 'bogus'"),
        ([VISCOSITY, "--type", "ewma", "--value", "viscosity", "--lambda", "1.5"],
         "error: --lambda: lam must be in (0, 1], got 1.5"),
        ([VISCOSITY, "--type", "cusum", "--value", "viscosity", "--h", "-1"], "error: --h: "),
        ([VISCOSITY, "--type", "imr", "--value", "viscosity", "--sigma-method", "r-bar"],
         "error: --sigma-method: "),
        ([str(DATA / "circuit.csv"), "--type", "c", "--count", "x", "--sigma-method", "mr"],
         "error: --sigma-method: a c chart takes its sigma from the Poisson distribution"),
        ([VISCOSITY, "--type", "imr", "--value", "viscosity", "--phase1", "1"],
         "error: --phase1: "),
        ([VISCOSITY, "--type", "imr", "--value", "viscosity", "--lsl", "35", "--usl", "33"],
         "must be below usl"),
    ],
)  # fmt: skip
def test_spc_errors_name_the_option(args: list[str], expected: str) -> None:
    assert expected in run_error(args)


def test_usage_errors_are_one_line() -> None:
    assert "'x' is not an integer" in run_error([VISCOSITY, "--type", "imr", "--phase1", "x"])
    assert "'wide' is not a number" in run_error(
        [VISCOSITY, "--type", "imr", "--value", "viscosity", "--lsl", "wide"]
    )
    assert "missing option '--type'" in run_error([VISCOSITY])
    assert "no such option" in run_error([VISCOSITY, "--type", "imr", "--colour", "red"]).lower()
    assert "missing argument" in run_error(["--type", "imr"]).lower()


def test_value_is_required_unless_single_column(tmp_path: Path) -> None:
    line = run_error([VISCOSITY, "--type", "imr"])
    assert line == (
        "error: imr needs --value COL naming the measurement column of viscosity.csv "
        "(columns: batch, viscosity, trial)"
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--type", "xbar-r", "--value", "diameter"], "xbar-r needs subgroups"),
        (
            [
                "--type",
                "xbar-r",
                "--value",
                "diameter",
                "--subgroup",
                "sample",
                "--subgroup-size",
                "5",
            ],
            "either --subgroup or --subgroup-size",
        ),
        (["--type", "imr", "--value", "diameter", "--subgroup", "sample"], "do not apply"),
        (["--type", "imr", "--value", "diameter", "--lambda", "0.3"], "--lambda applies to ewma"),
        (["--type", "ewma", "--value", "diameter", "--h", "4"], "--h applies to cusum"),
        (["--type", "imr", "--value", "diameter", "--target", "74"], "--target needs --lsl"),
        (["--type", "p", "--count", "diameter"], "p chart needs --size COL"),
        (["--type", "c", "--value", "diameter"], "--value does not apply to c charts"),
        (["--type", "u"], "u chart needs --count COL and --size COL"),
        (["--type", "p", "--count", "obs", "--size", "sample", "--lsl", "1"], "variable charts"),
        (["--type", "imr", "--value", "diameter", "--count", "obs"], "--count applies to"),
        (["--type", "xbar-r", "--value", "diameter", "--subgroup-size", "3"], "2 left over"),
        (["--type", "xbar-r", "--value", "diameter", "--subgroup-size", "0"], "at least 1"),
    ],
)
def test_option_combinations(args: list[str], expected: str) -> None:
    assert expected in run_error([PISTONRINGS, *args])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "data.csv is empty"),
        ("\n\n", "data.csv is empty"),
        ("x\n", "has a header but no data rows"),
        ("x,y\n1,2\n3\n", "line 3 of data.csv has 1 fields but the header has 2"),
        ("x,x\n1,2\n", "has the column 'x' twice"),
        ("x,\n1,2\n", "empty column name"),
    ],
)
def test_malformed_files(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in run_error([write(tmp_path, text), "--type", "imr"])


def test_directory_and_binary_file(tmp_path: Path) -> None:
    assert "is a directory" in run_error([str(tmp_path), "--type", "imr"])
    path = tmp_path / "bin.csv"
    path.write_bytes(b"x\n\xff\xfe\x00\x01\n")
    assert "is not UTF-8 text" in run_error([str(path), "--type", "imr"])


def test_real_console_script_error_contract(tmp_path: Path) -> None:
    """The installed `linewatch` script, not just the in-process app."""
    proc = subprocess.run(
        [
            str(LINEWATCH),
            "chart",
            PISTONRINGS,
            "--type",
            "xbar-r",
            "--value",
            "diam",
            "--subgroup",
            "sample",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr == (
        "error: column 'diam' not found in pistonrings.csv "
        "(columns: row, sample, obs, diameter, trial)\n"
    )
    proc = subprocess.run(
        [str(LINEWATCH), "chart", PISTONRINGS, "--type", "bogus"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (proc.returncode, proc.stdout, proc.stderr.count("\n")) == (2, "", 1)
    assert proc.stderr.startswith("error: unknown chart type 'bogus'")


def test_help_documents_value_rule() -> None:
    result = runner.invoke(app, ["chart", "--help"], env={"COLUMNS": "120"})
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    assert "only when the file has a single column" in text
    for flag in ("--subgroup-size", "--phase1", "--lambda", "--head-start", "--sigma-method"):
        assert flag in text
