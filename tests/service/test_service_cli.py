"""`linewatch token create`, `db upgrade` and `import` as a user runs them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
from service_helpers import SECRET, LiveServer, create_characteristic

ENV = {**os.environ, "LINEWATCH_SECRET_KEY": SECRET}


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "linewatch", *args],
        cwd=cwd,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_token_create_prints_the_token_alone(tmp_path: Path, database_url: str) -> None:
    done = run(
        "token",
        "create",
        "--role",
        "engineer",
        "--name",
        "ana",
        "--database-url",
        database_url,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(r"lw_[A-Za-z0-9_\-]{40,}\n", done.stdout)
    bad = run(
        "token",
        "create",
        "--role",
        "king",
        "--name",
        "x",
        "--database-url",
        database_url,
        cwd=tmp_path,
    )
    assert bad.returncode == 2
    assert bad.stdout == "" and len(bad.stderr.strip().splitlines()) == 1
    assert "Traceback" not in bad.stderr


def test_default_database_is_sqlite_in_the_working_directory(tmp_path: Path) -> None:
    env_free = run("token", "create", "--role", "admin", "--name", "root", cwd=tmp_path)
    assert env_free.returncode == 0, env_free.stderr
    assert (tmp_path / "linewatch.db").is_file()


def test_db_upgrade_applies_then_reports_up_to_date(tmp_path: Path, database_url: str) -> None:
    first = run("db", "upgrade", "--database-url", database_url, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "applied 0001_core" in first.stdout
    second = run("db", "upgrade", "--database-url", database_url, cwd=tmp_path)
    assert second.stdout.strip() == "up to date"
    wrong = run("db", "upgrade", "--database-url", "mysql://x", cwd=tmp_path)
    assert wrong.returncode == 2 and len(wrong.stderr.strip().splitlines()) == 1


def test_import_csv_through_the_api_and_into_the_database(
    live: LiveServer, api: httpx.Client, tmp_path: Path
) -> None:
    create_characteristic(api, key="k", chart="imr")
    csv = tmp_path / "backfill.csv"
    lines = ["characteristic,ts,value,lot"]
    lines += [
        f"k,2026-01-01T00:{i // 60:02d}:{i % 60:02d}Z,{10 + (i % 7) * 0.1},L{i // 100}"
        for i in range(1200)
    ]
    lines += ["k,2026-01-01T01:00:00Z,oops,L9", "nope,2026-01-01T01:00:01Z,1.0,L9"]
    csv.write_text("\n".join(lines) + "\n")
    token = live.token("operator", "importer")
    done = run(
        "import", str(csv), "--url", live.url, "--token", token, "--batch", "500", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "accepted 1200, duplicates 0, rejected 2"
    assert "row 1201: value must be a JSON number" in done.stderr
    assert "row 1202: unknown characteristic 'nope'" in done.stderr
    again = run(
        "import",
        str(csv),
        "--database-url",
        live.settings.database_url or "",
        "--batch",
        "700",
        cwd=tmp_path,
    )
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == "accepted 0, duplicates 1200, rejected 2"
    rows = api.get("/api/v1/characteristics/k/measurements", params={"limit": 5000}).json()
    assert len(rows) == 1200
    missing = run(
        "import", str(tmp_path / "nope.csv"), "--database-url", "sqlite:///x.db", cwd=tmp_path
    )
    assert missing.returncode == 2 and "no such file" in missing.stderr
