"""Fault tests with real processes: the worker killed (SIGKILL) around a delivery.

The service commits an alarm and its outbox row in one transaction; these tests write that row
with the service's repository and then run `linewatch alert worker` as a separate process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from alerting_receivers import Answer, HttpReceiver

from service.alerting import store
from service.storage.db import connect
from service.storage.migrations import migrate
from service.storage.repo_alarms import AlarmRepository

ROOT = Path(__file__).parents[2]
RUN_CLI = (
    "import typer; from service.alerting.cli import register; "
    "app = typer.Typer(); register(app); app()"
)

pytestmark = pytest.mark.slow


def _config(tmp_path: Path, receiver: HttpReceiver) -> Path:
    path = tmp_path / "linewatch.toml"
    path.write_text(
        f"""
[alerting.channels.hook]
type = "webhook"
url = "{receiver.url}/hook"
secret_env = "LW_TEST_HOOK_SECRET"
timeout_s = 10

[[alerting.routes]]
name = "all"
channels = ["hook"]

[alerting.worker]
poll_interval_s = 0.05
lease_s = 2
backoff_initial_s = 0.2
""",
        encoding="utf-8",
    )
    return path


def _start_worker(url: str, config: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "LW_TEST_HOOK_SECRET": "k", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            RUN_CLI,
            "alert",
            "worker",
            "--database-url",
            url,
            "--config",
            str(config),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _write_alarm(url: str, alarm_id: int) -> None:
    db = connect(url)
    try:
        migrate(db)
        with db.transaction() as tx:
            AlarmRepository().write_outbox(
                tx,
                "alarm.opened",
                alarm_id,
                {
                    "characteristic": {"key": "line1.op20.bore", "name": "Bore", "unit": "mm"},
                    "line": "line1",
                    "rule": "WE1",
                    "stat": 74.03,
                    "center": 74.0,
                    "lcl": 73.99,
                    "ucl": 74.01,
                    "ts": "2026-11-26T10:00:00Z",
                },
            )
    finally:
        db.close()


def _notifications(url: str, alarm_id: int):
    db = connect(url)
    try:
        with db.transaction(readonly=True) as tx:
            return store.notifications_for_alarm(tx, alarm_id)
    finally:
        db.close()


def test_alarm_committed_while_no_worker_runs_is_delivered_once_after_start(
    database_url, receiver, tmp_path
):
    """The service died right after committing the alarm: the next start delivers it, once."""
    _write_alarm(database_url, 1)
    proc = _start_worker(database_url, _config(tmp_path, receiver))
    try:
        assert len(receiver.wait_for(1, timeout=30)) == 1
        time.sleep(1.0)  # a second round must not send it again
    finally:
        _stop(proc)
    assert len(receiver.received) == 1
    assert receiver.received[0].json()["alarm_id"] == 1
    (note,) = _notifications(database_url, 1)
    assert note["state"] == "sent" and note["attempts"] == 1


def test_worker_killed_during_delivery_is_replaced_and_the_message_sent_once(
    database_url, receiver, tmp_path
):
    """SIGKILL while the request is in flight: the lease lapses, a new worker sends the same
    delivery id again, and exactly one attempt is recorded as successful."""
    config = _config(tmp_path, receiver)
    _write_alarm(database_url, 2)
    receiver.answers = [Answer(delay_s=3.0)]  # the first request hangs
    first = _start_worker(database_url, config)
    try:
        deadline = time.monotonic() + 30
        while receiver.arrivals < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert receiver.arrivals == 1
    finally:
        first.kill()  # SIGKILL: no clean-up, the lease stays behind
        first.wait()
    (note,) = _notifications(database_url, 2)
    assert note["state"] == "pending" and note["lease_owner"] is not None
    second = _start_worker(database_url, config)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            notes = _notifications(database_url, 2)
            if notes[0]["state"] == "sent":
                break
            time.sleep(0.1)
    finally:
        _stop(second)
    (note,) = _notifications(database_url, 2)
    assert note["state"] == "sent"
    assert [a["ok"] for a in note["attempt_log"]] == [True]
    delivery_ids = {r.headers.get("X-Linewatch-Delivery") for r in receiver.received}
    assert len(delivery_ids) == 1  # a receiver de-duplicating on it sees the message once
