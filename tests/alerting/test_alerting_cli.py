"""`linewatch alert test --channel NAME` against a real receiver; bad input exits 2."""

from __future__ import annotations

from pathlib import Path

import typer
from alerting_receivers import Answer, HttpReceiver
from typer.testing import CliRunner

from service.alerting.cli import register


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """root"""

    register(app)
    return app


def _config(tmp_path: Path, receiver: HttpReceiver) -> Path:
    path = tmp_path / "linewatch.toml"
    path.write_text(
        f"""
[alerting]
public_url = "http://dash.local:8050"

[alerting.channels.team-wecom]
type = "wecom"
url = "{receiver.url}/cgi-bin/webhook/send?key=abc"
language = "zh"

[alerting.channels.signed]
type = "webhook"
url = "{receiver.url}/hook"
secret_env = "LW_CLI_TEST_SECRET"
""",
        encoding="utf-8",
    )
    return path


def test_alert_test_sends_a_test_message(tmp_path, receiver):
    config = _config(tmp_path, receiver)
    result = CliRunner().invoke(
        _app(), ["alert", "test", "--channel", "team-wecom", "--config", str(config)]
    )
    assert result.exit_code == 0, result.output
    assert "sent via team-wecom" in result.output
    (req,) = receiver.wait_for(1)
    assert req.query == {"key": "abc"}
    content = req.json()["markdown"]["content"]
    assert "Linewatch 测试消息" in content and "team-wecom" in content


def test_alert_test_in_english_on_request(tmp_path, receiver):
    config = _config(tmp_path, receiver)
    result = CliRunner().invoke(
        _app(),
        ["alert", "test", "--channel", "team-wecom", "--config", str(config), "--lang", "en"],
    )
    assert result.exit_code == 0
    assert "Linewatch test message" in receiver.wait_for(1)[0].json()["markdown"]["content"]


def test_alert_test_reports_a_failed_delivery(tmp_path, receiver):
    receiver.default = Answer(body=b'{"errcode":93000,"errmsg":"invalid webhook url"}')
    config = _config(tmp_path, receiver)
    result = CliRunner().invoke(
        _app(), ["alert", "test", "--channel", "team-wecom", "--config", str(config)]
    )
    assert result.exit_code == 1
    assert "93000" in result.output


def test_bad_input_is_one_line_and_exit_2(tmp_path, receiver, monkeypatch):
    config = _config(tmp_path, receiver)
    monkeypatch.delenv("LW_CLI_TEST_SECRET", raising=False)
    cases = [
        (["--channel", "nope", "--config", str(config)], "unknown channel 'nope'"),
        (["--channel", "signed", "--config", str(config)], "LW_CLI_TEST_SECRET is not set"),
        (["--channel", "x", "--config", str(tmp_path / "missing.toml")], "not found"),
        (["--channel", "team-wecom", "--config", str(config), "--lang", "fr"], "--lang"),
    ]
    for args, fragment in cases:
        result = CliRunner().invoke(_app(), ["alert", "test", *args])
        assert result.exit_code == 2, (args, result.output)
        assert fragment in result.output
        assert "Traceback" not in result.output
    bad = tmp_path / "bad.toml"
    bad.write_text('[alerting]\nlanguage = "fr"\n', encoding="utf-8")
    result = CliRunner().invoke(_app(), ["alert", "test", "--channel", "a", "--config", str(bad)])
    assert result.exit_code == 2 and "language" in result.output
    assert receiver.received == []
