"""`linewatch import-defects FILE.csv`: through the API and into the database, a per-row error
report for the rows that fail, the rest stored."""

from __future__ import annotations

import csv
from pathlib import Path

import httpx
import pytest
import typer
from quality_helpers import LiveServer, ok
from typer.testing import CliRunner

from service.quality.cli import register

HEADER = "ts,line,station,product,lot,defect_code,disposition,quantity,rework_minutes,note"
ROWS = [
    "2026-03-02T08:00:00Z,L1,L1.op10,P-100,LOT-1,DIM-001,scrap,2,,first",
    "2026-03-02T08:05:00Z,L1,,P-100,LOT-1,SUR-001,rework,1,15,",
    "2026-03-02T08:10:00Z,L1,L1.op20,P-100,LOT-1,DIM-001,scrap,-4,,negative",
    "2026-03-02T08:15:00Z,L2,L2.op10,P-200,LOT-2,XXX-999,scrap,1,,unknown code",
    "2026-03-02T08:20:00Z,L2,L2.op10,P-200,LOT-2,DIM-002,scrap",
    "2026-03-02T08:25:00Z,L9,,P-200,LOT-2,DIM-002,scrap,1,,unknown line",
    '2026-03-02T08:30:00Z,L2,L2.op30,P-200,LOT-2,ASM-001,melt,1,,"bad, disposition"',
    "2026-03-02T08:35:00Z,L2,L2.op30,P-200,LOT-2,ASM-001,repair,3,twenty,",
    "",
    "2026-03-02T08:40:00Z,L2,L2.op30,P-200,LOT-3,ASM-001,repair,3,20,last",
]
EXPECTED_ERRORS = [
    "row 3 (line 4): quantity: Input should be greater than 0",
    "row 4 (line 5): defect_code: unknown defect code 'XXX-999'",
    "row 5 (line 6): row has 7 fields, the header has 10",
    "row 6 (line 7): line: unknown line 'L9'",
    "row 7 (line 8): disposition: unknown disposition 'melt' (one of customer_return, repair, "
    "return_to_supplier, rework, scrap, use_as_is)",
    "row 8 (line 9): rework_minutes: Input should be a valid number, unable to parse string as "
    "a number",
]


def cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """Test root."""

    register(app)
    return app


def write_csv(path: Path) -> Path:
    path.write_text("\n".join([HEADER, *ROWS]) + "\n", encoding="utf-8")
    return path


def stored(api: httpx.Client) -> list[dict]:
    return ok(
        api.get(
            "/api/v1/defects",
            params={  # type: ignore[no-any-return]
                "from": "2026-03-01T00:00:00Z",
                "to": "2026-04-01T00:00:00Z",
            },
        )
    )


@pytest.mark.parametrize("mode", ["http", "database"])
def test_import_reports_each_bad_row_and_stores_the_rest(
    mode: str, plant: httpx.Client, live: LiveServer, database_url: str, tmp_path: Path
) -> None:
    file = write_csv(tmp_path / "defects.csv")
    target = (
        ["--url", live.url, "--token", live.token("operator", "importer")]
        if mode == "http"
        else ["--database-url", database_url]
    )
    errors = tmp_path / "rejected.csv"
    result = CliRunner().invoke(
        cli(), ["import-defects", str(file), *target, "--batch", "3", "--errors", str(errors)]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == "accepted 3, duplicates 0, rejected 6\n"
    report = [line for line in result.stderr.splitlines() if line.startswith("row ")]
    assert report == EXPECTED_ERRORS
    records = stored(plant)
    assert [(r["note"], r["quantity"], r["rework_minutes"]) for r in records] == [
        ("first", 2, 0.0),
        (None, 1, 15.0),
        ("last", 3, 20.0),
    ]
    assert {r["recorded_by"] for r in records} == (
        {"importer"} if mode == "http" else {"import:defects.csv"}
    )
    with errors.open(newline="", encoding="utf-8") as f:
        rejected = list(csv.reader(f))
    assert rejected[0] == ["row", "error", *HEADER.split(",")]
    assert [r[0] for r in rejected[1:]] == ["3", "4", "5", "6", "7", "8"]
    assert rejected[5][-1] == "bad, disposition"


def test_bad_command_lines_fail_with_one_line(
    plant: httpx.Client, live: LiveServer, tmp_path: Path
) -> None:
    runner = CliRunner()
    missing = runner.invoke(cli(), ["import-defects", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 2 and missing.stderr.strip().endswith("no such file")
    bad_header = tmp_path / "bad.csv"
    bad_header.write_text("when,line,product\n2026-03-02T08:00:00Z,L1,P\n", encoding="utf-8")
    result = runner.invoke(
        cli(),
        ["import-defects", str(bad_header), "--url", live.url, "--token", live.token("operator")],
    )
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {bad_header}: CSV header lacks column(s): ts, defect_code, disposition"
    ]
    no_token = runner.invoke(cli(), ["import-defects", str(bad_header), "--url", live.url])
    assert no_token.exit_code == 2 and "--token" in no_token.stderr
    good = write_csv(tmp_path / "ok.csv")
    refused = runner.invoke(
        cli(), ["import-defects", str(good), "--url", live.url, "--token", "lw_wrong"]
    )
    assert refused.exit_code == 1 and "HTTP 401" in refused.stderr
    assert "Traceback" not in refused.stderr
