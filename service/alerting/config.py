"""The `[alerting]` section of linewatch.toml: channels, routes, escalation, worker tuning.

Validated without touching the network or the environment: secrets are named by the
environment variable that holds them (`secret_env`, `password_env`, `url_env`) and read only
when a channel is built (`channels.factory.build_channel`), so that a config file can be checked
on a laptop that has none of the plant's secrets, and never contains them itself.

Unknown keys are an error (telegraf habit): a typo such as `rate_limt` must not silently turn
a limit off.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from datetime import time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Language = Literal["en", "zh"]
Severity = Literal["info", "warning", "critical"]
Event = Literal["alarm.opened", "alarm.hit", "alarm.acknowledged", "alarm.closed"]

SEVERITY_ORDER: dict[str, int] = {"info": 0, "warning": 1, "critical": 2}

#: Default severity per rule: a point beyond 3σ is an outright out-of-control signal that the
#: line must react to now; run and pattern rules point at drifts that can wait for the engineer.
DEFAULT_SEVERITY: dict[str, Severity] = {"WE1": "critical", "N1": "critical"}

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _UrlFromEnv(_Strict):
    """A chat or webhook URL, literal or from the environment (robot URLs carry a token)."""

    url: str | None = None
    url_env: str | None = None

    @model_validator(mode="after")
    def _one_url(self) -> _UrlFromEnv:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("give exactly one of `url` or `url_env`")
        if self.url is not None and not self.url.startswith(("http://", "https://")):
            raise ValueError("`url` must start with http:// or https://")
        return self


class _ChannelBase(_Strict):
    language: Language | None = Field(None, description="default: [alerting].language")
    timeout_s: float = Field(5.0, gt=0, le=120, description="one attempt's timeout, seconds")


class WebhookChannelConfig(_ChannelBase, _UrlFromEnv):
    type: Literal["webhook"]
    secret_env: str | None = Field(None, description="env var holding the HMAC-SHA256 secret")
    headers: dict[str, str] = Field(default_factory=dict)


class DingTalkChannelConfig(_ChannelBase, _UrlFromEnv):
    type: Literal["dingtalk"]
    secret_env: str | None = Field(None, description="env var with the robot's SEC... sign secret")
    at_mobiles: list[str] = Field(default_factory=list)
    at_all: bool = False


class WeComChannelConfig(_ChannelBase, _UrlFromEnv):
    type: Literal["wecom"]
    mentioned_mobiles: list[str] = Field(default_factory=list)


class FeishuChannelConfig(_ChannelBase, _UrlFromEnv):
    type: Literal["feishu"]
    secret_env: str | None = Field(None, description="env var with the bot's signature secret")
    style: Literal["interactive", "post"] = "interactive"


class SlackChannelConfig(_ChannelBase, _UrlFromEnv):
    type: Literal["slack"]


class TeamsChannelConfig(_ChannelBase, _UrlFromEnv):
    type: Literal["teams"]
    style: Literal["adaptive", "messagecard"] = Field(
        "adaptive", description="adaptive: Workflows webhooks; messagecard: legacy connectors"
    )


class EmailChannelConfig(_ChannelBase):
    type: Literal["email"]
    host: str
    port: int = Field(587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password_env: str | None = None
    ca_file: str | None = Field(None, description="CA bundle for a plant-internal mail server")
    sender: str
    to: list[str] = Field(min_length=1)
    cc: list[str] = Field(default_factory=list)
    chart: bool = Field(True, description="attach a small PNG chart of the last points inline")
    timeout_s: float = Field(10.0, gt=0, le=120)


class MqttChannelConfig(_ChannelBase):
    type: Literal["mqtt"]
    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    client_id: str | None = None
    username: str | None = None
    password_env: str | None = None
    tls: bool = False
    ca_file: str | None = None
    qos: Literal[0, 1, 2] = 1
    topic: str = Field(
        "linewatch/{site}/{line}/{characteristic}/alarm",
        description="event topic; fields: site, line, station, characteristic, rule",
    )
    state_topic: str | None = Field(
        "linewatch/{site}/{line}/{characteristic}/state",
        description="retained topic with the characteristic's current alarm state; '' disables",
    )


ChannelConfig = Annotated[
    WebhookChannelConfig
    | DingTalkChannelConfig
    | WeComChannelConfig
    | FeishuChannelConfig
    | SlackChannelConfig
    | TeamsChannelConfig
    | EmailChannelConfig
    | MqttChannelConfig,
    Field(discriminator="type"),
]


class QuietHours(_Strict):
    """A daily window (may wrap midnight) in the plant's time zone when a route stays silent.

    Events that fall into it are folded into the route's digest, sent after the window ends,
    so nothing is lost, only delayed.
    """

    start: time
    end: time
    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(
        default_factory=lambda: ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]  # type: ignore[arg-type]
    )
    timezone: str | None = Field(None, description="IANA zone; default [alerting].timezone")

    @field_validator("timezone")
    @classmethod
    def _zone_exists(cls, value: str | None) -> str | None:
        if value is not None:
            _check_zone(value)
        return value


class RateLimit(_Strict):
    """Token bucket: `burst` messages at once, refilled at `per_minute`."""

    per_minute: float = Field(6.0, gt=0)
    burst: int = Field(5, ge=1)


class MatchSpec(_Strict):
    """Which alarms a route or an escalation policy is about. Empty list = any; globs allowed."""

    sites: list[str] = Field(default_factory=list)
    lines: list[str] = Field(default_factory=list)
    characteristics: list[str] = Field(default_factory=list)
    rules: list[str] = Field(default_factory=list)
    min_severity: Severity = "info"


class RouteConfig(MatchSpec):
    name: str
    channels: list[str] = Field(min_length=1)
    events: list[Event] = Field(
        default_factory=lambda: ["alarm.opened"],  # type: ignore[arg-type]
        description="events sent as their own message; alarm.hit repeats go to the digest",
    )
    digest_minutes: float = Field(15.0, gt=0, description="at most one digest per this period")
    rate_limit: RateLimit = Field(default_factory=lambda: RateLimit.model_validate({}))
    quiet_hours: list[QuietHours] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _name_ok(cls, value: str) -> str:
        return _check_name(value, "route")


class EscalationLevel(_Strict):
    after_minutes: float = Field(gt=0, description="since the alarm opened, unacknowledged")
    channels: list[str] = Field(min_length=1)
    label: str = Field("", description="who this level reaches, e.g. 'quality manager'")


class EscalationPolicy(MatchSpec):
    name: str
    levels: list[EscalationLevel] = Field(min_length=1)

    @field_validator("name")
    @classmethod
    def _name_ok(cls, value: str) -> str:
        return _check_name(value, "escalation policy")

    @model_validator(mode="after")
    def _increasing(self) -> EscalationPolicy:
        delays = [level.after_minutes for level in self.levels]
        if any(b <= a for a, b in itertools.pairwise(delays)):
            raise ValueError("escalation levels need strictly increasing `after_minutes`")
        return self


class WorkerConfig(_Strict):
    poll_interval_s: float = Field(0.1, gt=0, le=60)
    batch_size: int = Field(50, ge=1, le=1000, description="notifications in flight at most")
    outbox_batch: int = Field(500, ge=1, le=10000, description="outbox rows per transaction")
    lease_s: float = Field(30.0, gt=0, description="a claimed notification is retried after this")
    max_attempts: int = Field(15, ge=1, description="then the notification is marked failed")
    backoff_initial_s: float = Field(1.0, gt=0)
    backoff_max_s: float = Field(600.0, gt=0)
    max_event_age_s: float = Field(
        3600.0, gt=0, description="older unseen outbox events are recorded but not sent"
    )
    recent_points: int = Field(30, ge=0, le=500, description="points drawn in e-mail charts")


class AlertingConfig(_Strict):
    enabled: bool = True
    language: Language = "en"
    timezone: str = "UTC"
    public_url: str = Field(
        "http://localhost:8050", description="prefix of chart links in messages (the dashboard)"
    )
    severity: dict[str, Severity] = Field(default_factory=lambda: dict(DEFAULT_SEVERITY))
    default_severity: Severity = "warning"
    channels: dict[str, ChannelConfig] = Field(default_factory=dict)
    routes: list[RouteConfig] = Field(default_factory=list)
    escalation: list[EscalationPolicy] = Field(default_factory=list)
    worker: WorkerConfig = Field(default_factory=lambda: WorkerConfig.model_validate({}))

    @field_validator("timezone")
    @classmethod
    def _zone_exists(cls, value: str) -> str:
        _check_zone(value)
        return value

    @field_validator("channels")
    @classmethod
    def _channel_names(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            _check_name(name, "channel")
        return value

    @model_validator(mode="after")
    def _references(self) -> AlertingConfig:
        known = set(self.channels)
        seen: set[str] = set()
        for route in self.routes:
            if route.name in seen:
                raise ValueError(f"route name {route.name!r} is used twice")
            seen.add(route.name)
            _check_refs(known, route.channels, f"route {route.name!r}")
        for policy in self.escalation:
            for level in policy.levels:
                _check_refs(known, level.channels, f"escalation {policy.name!r}")
        return self

    def severity_of(self, rule: str | None) -> str:
        if rule is None:
            return self.default_severity
        return self.severity.get(rule, self.default_severity)


def parse_alerting(section: Mapping[str, Any] | None) -> AlertingConfig:
    """Validate the `[alerting]` table of linewatch.toml (no section: alerting without routes)."""
    return AlertingConfig.model_validate(dict(section or {}))


def load_alerting(path: str) -> AlertingConfig:
    """Read the `[alerting]` section from a linewatch.toml file."""
    import tomllib

    with open(path, "rb") as fh:
        document = tomllib.load(fh)
    return parse_alerting(document.get("alerting"))


def _check_refs(known: set[str], names: list[str], where: str) -> None:
    missing = [n for n in names if n not in known]
    if missing:
        raise ValueError(f"{where} names unknown channel(s): {', '.join(missing)}")


def _check_name(value: str, what: str) -> str:
    if not _NAME.match(value):
        raise ValueError(f"{what} name {value!r}: use letters, digits, '_', '-', '.' (max 64)")
    return value


def _check_zone(value: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r}") from exc
