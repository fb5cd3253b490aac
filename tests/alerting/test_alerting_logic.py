"""Config, templates, routing, rate limit, digest and escalation: pure functions, time injected."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from service.alerting.channels.factory import MissingSecretError, build_channels
from service.alerting.config import (
    EscalationPolicy,
    QuietHours,
    RateLimit,
    RouteConfig,
    load_alerting,
    parse_alerting,
)
from service.alerting.escalation import due_levels, next_due_at, policy_for
from service.alerting.message import AlarmMessage, Digest, from_outbox
from service.alerting.routing import (
    AlarmFacts,
    BucketState,
    backoff_delay,
    decide,
    digest_due,
    in_quiet_hours,
    matches,
    seconds_until_token,
    take_token,
)
from service.alerting.templates import render, rule_phrase

EXAMPLE = Path(__file__).parents[2] / "deploy" / "alerting.example.toml"
T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


# --- config ------------------------------------------------------------------------------------
def test_example_config_is_valid():
    config = load_alerting(str(EXAMPLE))
    assert config.timezone == "Asia/Shanghai"
    assert {c.type for c in config.channels.values()} == {
        "webhook",
        "dingtalk",
        "wecom",
        "feishu",
        "slack",
        "teams",
        "email",
        "mqtt",
    }
    assert [r.name for r in config.routes] == ["line1-operators", "quality-mail", "andon"]
    assert config.escalation[0].levels[2].label == "plant manager"


@pytest.mark.parametrize(
    ("section", "fragment"),
    [
        ({"routes": [{"name": "r", "channels": ["nope"]}]}, "unknown channel"),
        ({"channels": {"a": {"type": "slack", "url": "http://x", "colour": 1}}}, "colour"),
        ({"channels": {"a": {"type": "slack"}}}, "exactly one of `url` or `url_env`"),
        ({"channels": {"a": {"type": "slack", "url": "ftp://x"}}}, "http"),
        ({"channels": {"a": {"type": "pager", "url": "http://x"}}}, "pager"),
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"rate_limt": 1}, "rate_limt"),
    ],
)
def test_bad_config_is_rejected_naming_the_problem(section, fragment):
    with pytest.raises(ValidationError) as err:
        parse_alerting(section)
    assert fragment in str(err.value)


def test_escalation_levels_must_increase():
    with pytest.raises(ValidationError, match="strictly increasing"):
        EscalationPolicy(
            name="p",
            levels=[
                {"after_minutes": 30, "channels": ["a"]},
                {"after_minutes": 10, "channels": ["b"]},
            ],
        )


def test_secrets_come_from_the_environment_only_when_built():
    config = load_alerting(str(EXAMPLE))  # validates without any secret set
    with pytest.raises(MissingSecretError, match="LW_MES_WEBHOOK_SECRET"):
        build_channels(config, http_client=None, environ={})  # type: ignore[arg-type]
    env = {
        "LW_MES_WEBHOOK_SECRET": "s",
        "LW_DINGTALK_LINE1_URL": "https://oapi.dingtalk.com/robot/send?access_token=t",
        "LW_DINGTALK_LINE1_SECRET": "SECx",
        "LW_WECOM_QM_URL": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k",
        "LW_FEISHU_URL": "https://open.feishu.cn/open-apis/bot/v2/hook/h",
        "LW_FEISHU_SECRET": "f",
        "LW_SLACK_URL": "https://hooks.slack.com/services/a",
        "LW_TEAMS_URL": "https://example.webhook.office.com/x",
        "LW_SMTP_PASSWORD": "p",
    }
    channels = build_channels(config, http_client=None, environ=env)  # type: ignore[arg-type]
    assert channels["line1-dingtalk"].language == "zh"
    assert channels["eng-slack"].language == "en"
    assert {c.kind for c in channels.values()} >= {"dingtalk", "email", "mqtt", "webhook"}


# --- message and templates ---------------------------------------------------------------------
def test_from_outbox_builds_the_message():
    payload = {
        "characteristic": {"key": "line1.op20.bore", "name": "Bore", "unit": "mm"},
        "site": "Suzhou",
        "line": "line1",
        "station": "op20",
        "rule": "WE1",
        "rule_text": "WE1: one point beyond 3σ",
        "value": 73.97,
        "center": 74.0,
        "lcl": 73.99,
        "ucl": 74.01,
        "ts": "2026-11-26T10:00:00Z",
        "chart_path": "/characteristics/line1.op20.bore?alarm=7",
    }
    msg = from_outbox(
        "alarm.opened", 7, payload, public_url="http://dash:8050/", severity="critical"
    )
    assert msg.characteristic == "line1.op20.bore" and msg.unit == "mm"
    assert msg.side == "below"
    assert msg.severity == "critical"
    assert msg.chart_url == "http://dash:8050/characteristics/line1.op20.bore?alarm=7"
    assert msg.ts == T0
    assert AlarmMessage.from_dict(msg.to_dict()) == msg
    with pytest.raises(ValueError, match="characteristic"):
        from_outbox("alarm.opened", 1, {"ts": "2026-11-26T10:00:00Z"}, public_url="")


@pytest.mark.parametrize(
    ("rule", "value", "lang", "expected"),
    [
        ("WE2", 74.02, "en", "WE2: 2 of 3 points beyond 2σ above"),
        ("WE2", 73.98, "en", "WE2: 2 of 3 points beyond 2σ below"),
        ("N5", 74.02, "en", "N5: 2 of 3 points beyond 2σ above"),
        ("WE1", 73.98, "zh", "WE1：1 点超出 3σ（中心线下方）"),
        ("WE4", 74.02, "en", "WE4: 8 points in a row above the center line"),
        ("N2", 73.98, "zh", "N2：连续 9 点位于中心线下方"),
    ],
)
def test_rule_in_words_names_the_side(opened_message, rule, value, lang, expected):
    assert rule_phrase(replace(opened_message, rule=rule, value=value), lang) == expected


def test_rules_without_a_side_use_spc_wording(opened_message):
    from spc import describe_rule

    msg = replace(opened_message, rule="N3")
    assert rule_phrase(msg, "en") == describe_rule("N3", "en")
    assert rule_phrase(msg, "zh") == describe_rule("N3", "zh")


def test_render_english_and_chinese(opened_message):
    en = render(opened_message, "en", "Asia/Shanghai")
    assert en.title == "Out of control: Bore diameter (line1 / op20) — WE2 above"
    facts = dict(en.facts)
    assert facts["Plant"] == "Suzhou"
    assert facts["Line"] == "line1 (station op20)"
    assert facts["Characteristic"] == "Bore diameter (line1.op20.bore)"
    assert facts["Last value"] == "74.0154 mm"
    assert facts["Time"] == "2026-11-26 18:00:00 +08:00"
    zh = render(opened_message, "zh", "UTC")
    assert zh.title == "失控报警：Bore diameter（line1 / op20）— WE2 上方"
    assert dict(zh.facts)["时间"] == "2026-11-26 10:00:00 +00:00"
    assert dict(zh.facts)["严重度"] == "警告"


def test_render_digest_escalation_and_closed(opened_message):
    digest = replace(
        opened_message,
        kind="digest",
        digest=Digest(12, T0, T0 + timedelta(minutes=14), {"WE2": 9, "WE1": 3}, (42, 43)),
    )
    r = render(digest, "en")
    assert r.title == "12 repeated violations: Bore diameter (line1 / op20)"
    assert dict(r.facts)["Rules"] == "WE1 ×3, WE2 ×9"
    assert dict(r.facts)["Alarms"] == "#42, #43"
    esc = replace(
        opened_message,
        kind="escalation",
        escalation_level=2,
        escalation_label="quality manager",
        minutes_open=45,
    )
    assert render(esc, "en").title == (
        "Escalation L2 (quality manager): Bore diameter (line1 / op20) not acknowledged for 45 min"
    )
    assert "报警升级 L2（quality manager）" in render(esc, "zh").title
    closed = replace(opened_message, event="alarm.closed")
    assert render(closed, "en").title.startswith("Back in control:")


# --- routing -----------------------------------------------------------------------------------
FACTS = AlarmFacts("line1.op20.bore", site="Suzhou", line="line1", rule="WE2", severity="warning")


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({}, True),
        ({"lines": ["line1"]}, True),
        ({"lines": ["line2"]}, False),
        ({"characteristics": ["line1.*"]}, True),
        ({"characteristics": ["line1.op10.*"]}, False),
        ({"sites": ["Suz*"], "rules": ["WE1", "WE2"]}, True),
        ({"rules": ["WE1"]}, False),
        ({"min_severity": "warning"}, True),
        ({"min_severity": "critical"}, False),
    ],
)
def test_route_matching(spec, expected):
    route = RouteConfig(name="r", channels=["c"], **spec)
    assert matches(route, FACTS) is expected


def test_missing_attribute_does_not_match_a_filter():
    route = RouteConfig(name="r", channels=["c"], sites=["*"])
    assert not matches(route, replace(FACTS, site=None))


def test_quiet_hours_wrap_midnight_in_the_plant_zone():
    night = QuietHours(start=time(22), end=time(6), days=["fri"], timezone="Asia/Shanghai")
    # Friday 2026-11-27 23:00 Shanghai = 15:00 UTC: inside
    assert in_quiet_hours([night], datetime(2026, 11, 27, 15, 0, tzinfo=UTC), "UTC")
    # Saturday 03:00 Shanghai belongs to Friday's window
    assert in_quiet_hours([night], datetime(2026, 11, 27, 19, 0, tzinfo=UTC), "UTC")
    # Saturday 23:00 Shanghai: Saturday is not listed
    assert not in_quiet_hours([night], datetime(2026, 11, 28, 15, 0, tzinfo=UTC), "UTC")
    # Friday 21:59 Shanghai: before the start
    assert not in_quiet_hours([night], datetime(2026, 11, 27, 13, 59, tzinfo=UTC), "UTC")
    lunch = QuietHours(start=time(12), end=time(13))
    assert in_quiet_hours([lunch], datetime(2026, 11, 27, 12, 30, tzinfo=UTC), "UTC")
    assert not in_quiet_hours([lunch], datetime(2026, 11, 27, 13, 0, tzinfo=UTC), "UTC")


def test_token_bucket_allows_burst_then_the_rate():
    limit = RateLimit(per_minute=6, burst=3)
    state = BucketState.full(limit, 1000.0)
    granted = []
    for _ in range(5):
        ok, state = take_token(state, limit, 1000.0)
        granted.append(ok)
    assert granted == [True, True, True, False, False]
    assert seconds_until_token(state, limit, 1000.0) == pytest.approx(10.0)
    assert take_token(state, limit, 1009.9)[0] is False
    ok, state = take_token(state, limit, 1010.0)
    assert ok
    # after a long pause the bucket is full again, never more than the burst
    _, later = take_token(state, limit, 10_000.0)
    assert later.tokens == pytest.approx(2.0)


def test_token_bucket_against_a_simulated_flood():
    """Over any run of T seconds a route sends at most burst + T * rate messages."""
    limit = RateLimit(per_minute=12, burst=4)
    state = BucketState.full(limit, 0.0)
    sent = [
        t / 10
        for t in range(0, 600)
        if (r := take_token(state, limit, t / 10))[0] and (state := r[1]) is not None
    ]
    assert len(sent) <= 4 + 60 * 12 / 60 + 1
    assert len(sent) >= 4 + 59 * 12 / 60 - 1


@pytest.mark.parametrize(
    ("events", "event", "quiet", "token", "expected"),
    [
        (["alarm.opened"], "alarm.opened", False, True, "send"),
        (["alarm.opened"], "alarm.opened", False, False, "fold"),
        (["alarm.opened"], "alarm.opened", True, True, "fold"),
        (["alarm.opened"], "alarm.hit", False, True, "fold"),
        (["alarm.opened", "alarm.hit"], "alarm.hit", False, True, "send"),
        (["alarm.opened"], "alarm.closed", False, True, "skip"),
        (["alarm.opened", "alarm.closed"], "alarm.closed", False, False, "send"),
        (["alarm.opened", "alarm.closed"], "alarm.closed", True, True, "skip"),
        (["alarm.closed"], "alarm.opened", False, True, "skip"),
    ],
)
def test_decide(events, event, quiet, token, expected):
    route = RouteConfig(name="r", channels=["c"], events=events)
    assert decide(route, event, quiet=quiet, token=token) == expected


def test_digest_due_after_the_period():
    route = RouteConfig(name="r", channels=["c"], digest_minutes=10)
    assert digest_due(route, last_message_at=None, now=T0, quiet=False)
    assert not digest_due(route, last_message_at=T0, now=T0 + timedelta(minutes=9), quiet=False)
    assert digest_due(route, last_message_at=T0, now=T0 + timedelta(minutes=10), quiet=False)
    assert not digest_due(route, last_message_at=None, now=T0, quiet=True)


def test_backoff_doubles_with_jitter_and_caps():
    assert backoff_delay(1, 1.0, 600, 0.0) == 0.5
    assert backoff_delay(1, 1.0, 600, 0.999999) == pytest.approx(1.0)
    assert backoff_delay(4, 1.0, 600, 0.999999) == pytest.approx(8.0)
    assert backoff_delay(30, 1.0, 600, 0.999999) == pytest.approx(600.0)


# --- escalation --------------------------------------------------------------------------------
POLICY = EscalationPolicy(
    name="p",
    min_severity="warning",
    levels=[
        {"after_minutes": 15, "channels": ["eng"], "label": "line engineer"},
        {"after_minutes": 45, "channels": ["qm"], "label": "quality manager"},
        {"after_minutes": 120, "channels": ["pm"], "label": "plant manager"},
    ],
)


def test_escalation_steps_one_level_after_another():
    def numbers(minutes: float, done: int, ack: bool = False) -> list[int]:
        now = T0 + timedelta(minutes=minutes)
        return [
            n
            for n, _ in due_levels(
                POLICY, opened_at=T0, levels_done=done, now=now, acknowledged=ack
            )
        ]

    assert numbers(14.9, 0) == []
    assert numbers(15, 0) == [1]
    assert numbers(44, 1) == []
    assert numbers(46, 1) == [2]
    assert numbers(46, 2) == []
    assert numbers(200, 0) == [1, 2, 3]  # a worker that was down sends the overdue levels in order
    assert numbers(200, 3) == []
    assert numbers(200, 1, ack=True) == []
    assert next_due_at(POLICY, opened_at=T0, levels_done=1) == T0 + timedelta(minutes=45)
    assert next_due_at(POLICY, opened_at=T0, levels_done=3) is None


def test_first_matching_policy_wins():
    strict = POLICY.model_copy(update={"name": "critical-only", "min_severity": "critical"})
    assert policy_for([strict, POLICY], FACTS).name == "p"
    assert policy_for([strict], FACTS) is None
