"""Channel objects from validated config; the one place that reads secrets from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import httpx

from service.alerting.channels.base import Channel
from service.alerting.channels.email import EmailChannel
from service.alerting.channels.http import (
    DingTalkChannel,
    FeishuChannel,
    SlackChannel,
    TeamsChannel,
    WebhookChannel,
    WeComChannel,
)
from service.alerting.channels.mqtt import MqttChannel
from service.alerting.config import (
    AlertingConfig,
    DingTalkChannelConfig,
    EmailChannelConfig,
    FeishuChannelConfig,
    MqttChannelConfig,
    SlackChannelConfig,
    TeamsChannelConfig,
    WebhookChannelConfig,
    WeComChannelConfig,
)


class MissingSecretError(ValueError):
    """A channel names an environment variable that is not set."""


def _env(name: str | None, environ: Mapping[str, str], channel: str) -> str | None:
    if name is None:
        return None
    value = environ.get(name)
    if not value:
        raise MissingSecretError(f"channel {channel!r}: environment variable {name} is not set")
    return value


def build_channel(
    name: str,
    cfg: Any,
    *,
    http_client: httpx.AsyncClient,
    language: str = "en",
    timezone: str = "UTC",
    environ: Mapping[str, str] | None = None,
) -> Channel:
    env = os.environ if environ is None else environ
    common: dict[str, Any] = {
        "language": cfg.language or language,
        "tz": timezone,
        "timeout_s": cfg.timeout_s,
    }
    if isinstance(cfg, EmailChannelConfig):
        return EmailChannel(
            name,
            host=cfg.host,
            port=cfg.port,
            sender=cfg.sender,
            to=cfg.to,
            cc=cfg.cc,
            security=cfg.security,
            username=cfg.username,
            password=_env(cfg.password_env, env, name),
            ca_file=cfg.ca_file,
            chart=cfg.chart,
            **common,
        )
    if isinstance(cfg, MqttChannelConfig):
        return MqttChannel(
            name,
            host=cfg.host,
            port=cfg.port,
            topic=cfg.topic,
            state_topic=cfg.state_topic,
            qos=cfg.qos,
            client_id=cfg.client_id,
            username=cfg.username,
            password=_env(cfg.password_env, env, name),
            tls=cfg.tls,
            ca_file=cfg.ca_file,
            **common,
        )
    url = cfg.url if cfg.url is not None else _env(cfg.url_env, env, name)
    assert url is not None
    if isinstance(cfg, WebhookChannelConfig):
        return WebhookChannel(
            name,
            url,
            http_client,
            secret=_env(cfg.secret_env, env, name),
            headers=cfg.headers,
            **common,
        )
    if isinstance(cfg, DingTalkChannelConfig):
        return DingTalkChannel(
            name,
            url,
            http_client,
            secret=_env(cfg.secret_env, env, name),
            at_mobiles=cfg.at_mobiles,
            at_all=cfg.at_all,
            **common,
        )
    if isinstance(cfg, WeComChannelConfig):
        return WeComChannel(
            name, url, http_client, mentioned_mobiles=cfg.mentioned_mobiles, **common
        )
    if isinstance(cfg, FeishuChannelConfig):
        return FeishuChannel(
            name,
            url,
            http_client,
            secret=_env(cfg.secret_env, env, name),
            style=cfg.style,
            **common,
        )
    if isinstance(cfg, SlackChannelConfig):
        return SlackChannel(name, url, http_client, **common)
    if isinstance(cfg, TeamsChannelConfig):
        return TeamsChannel(name, url, http_client, style=cfg.style, **common)
    raise TypeError(f"unknown channel config {type(cfg).__name__}")


def build_channels(
    config: AlertingConfig,
    *,
    http_client: httpx.AsyncClient,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Channel]:
    return {
        name: build_channel(
            name,
            cfg,
            http_client=http_client,
            language=config.language,
            timezone=config.timezone,
            environ=environ,
        )
        for name, cfg in config.channels.items()
    }
