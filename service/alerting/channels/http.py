"""HTTP channels: the generic signed webhook and the chat robots (DingTalk, WeCom, Feishu/Lark,
Slack, Teams). Payload shapes and signatures are in `service.alerting.formats`.

The `httpx.AsyncClient` is injected (one shared pool for the worker, a client bound to a local
test server in tests); every request carries the channel's own timeout.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import tzinfo
from typing import Any

import httpx

from service.alerting import formats
from service.alerting.channels.base import DeliveryResult, redact, retryable_status
from service.alerting.message import AlarmMessage
from service.alerting.templates import Rendered, render

# Vendor error codes that mean "slow down / busy, try again" rather than "your request is wrong".
_RETRYABLE_CODES = {
    "dingtalk": {-1, 130101, 130102},
    "wecom": {-1, 45009, 45033},
    "feishu": {11232},
}


class HttpChannel:
    """Shared request/answer handling; subclasses build the body and read the vendor's answer."""

    kind = "http"

    def __init__(
        self,
        name: str,
        url: str,
        client: httpx.AsyncClient,
        *,
        language: str = "en",
        tz: tzinfo | str = "UTC",
        timeout_s: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self._url = url
        self._client = client
        self.language = language
        self._tz = tz
        self._timeout = httpx.Timeout(timeout_s)
        self._clock = clock

    def rendered(self, message: AlarmMessage) -> Rendered:
        return render(message, self.language, self._tz)

    def request(self, message: AlarmMessage) -> tuple[str, bytes, dict[str, str]]:
        """URL, raw body and headers of the request for this message (pure but for the clock)."""
        body = _json_bytes(self.payload(message))
        return self._url, body, {"Content-Type": "application/json; charset=utf-8"}

    def payload(self, message: AlarmMessage) -> dict[str, Any]:
        raise NotImplementedError

    def secrets(self) -> tuple[str | None, ...]:
        return (self._url,)

    async def send(self, message: AlarmMessage) -> DeliveryResult:
        started = time.perf_counter()
        try:
            url, body, headers = self.request(message)
            response = await self._client.post(
                url, content=body, headers=headers, timeout=self._timeout
            )
        except httpx.HTTPError as exc:
            detail = redact(f"{type(exc).__name__}: {exc}", *self.secrets())
            return DeliveryResult.failure(detail, retryable=True, started=started)
        return self.judge(response, started)

    def judge(self, response: httpx.Response, started: float) -> DeliveryResult:
        status = response.status_code
        if not 200 <= status < 300:
            return DeliveryResult.failure(
                f"HTTP {status}: {_snippet(response)}",
                retryable=retryable_status(status),
                status_code=status,
                started=started,
            )
        return DeliveryResult.success(status, _snippet(response), started)

    async def aclose(self) -> None:
        """The client is shared and owned by whoever injected it."""


class WebhookChannel(HttpChannel):
    """Generic JSON webhook, HMAC-SHA256 signed (header names in `formats`)."""

    kind = "webhook"

    def __init__(
        self,
        name: str,
        url: str,
        client: httpx.AsyncClient,
        *,
        secret: str | None = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(name, url, client, **kwargs)
        self._secret = secret
        self._headers = dict(headers or {})

    def payload(self, message: AlarmMessage) -> dict[str, Any]:
        r = self.rendered(message)
        return {
            "delivery_id": message.delivery_id,
            "channel": self.name,
            **message.to_dict(),
            "text": {"title": r.title, "body": r.text(), "language": self.language},
        }

    def request(self, message: AlarmMessage) -> tuple[str, bytes, dict[str, str]]:
        body = _json_bytes(self.payload(message))
        timestamp = int(self._clock())
        headers = {
            **self._headers,
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Linewatch-Alerting/1",
            formats.EVENT_HEADER: message.event if message.kind == "alarm" else message.kind,
            formats.TIMESTAMP_HEADER: str(timestamp),
        }
        if message.delivery_id:
            headers[formats.DELIVERY_HEADER] = message.delivery_id
        if self._secret:
            headers[formats.SIGNATURE_HEADER] = formats.webhook_signature(
                self._secret, timestamp, body
            )
        return self._url, body, headers

    def secrets(self) -> tuple[str | None, ...]:
        return (self._url, self._secret)


class _ErrcodeChannel(HttpChannel):
    """Chinese chat robots answer HTTP 200 with an error code in the body."""

    code_field = "errcode"

    def judge(self, response: httpx.Response, started: float) -> DeliveryResult:
        first = super().judge(response, started)
        if not first.ok:
            return first
        try:
            answer = response.json()
            code = int(answer.get(self.code_field, answer.get("StatusCode", 0)))
        except (ValueError, AttributeError, TypeError):
            return DeliveryResult.failure(
                f"unexpected answer: {_snippet(response)}",
                retryable=True,
                status_code=response.status_code,
                started=started,
            )
        if code != 0:
            return DeliveryResult.failure(
                f"{self.kind} error {code}: {_snippet(response)}",
                retryable=code in _RETRYABLE_CODES.get(self.kind, set()),
                status_code=response.status_code,
                started=started,
            )
        return first


class DingTalkChannel(_ErrcodeChannel):
    kind = "dingtalk"

    def __init__(
        self,
        name: str,
        url: str,
        client: httpx.AsyncClient,
        *,
        secret: str | None = None,
        at_mobiles: list[str] | None = None,
        at_all: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(name, url, client, **kwargs)
        self._secret = secret
        self._at_mobiles = list(at_mobiles or [])
        self._at_all = at_all

    def payload(self, message: AlarmMessage) -> dict[str, Any]:
        r = self.rendered(message)
        return formats.dingtalk_payload(r, at_mobiles=self._at_mobiles, at_all=self._at_all)

    def request(self, message: AlarmMessage) -> tuple[str, bytes, dict[str, str]]:
        url, body, headers = super().request(message)
        if self._secret:
            ts_ms = int(self._clock() * 1000)
            sep = "&" if "?" in url else "?"
            url = f"{url}{sep}timestamp={ts_ms}&sign={formats.dingtalk_sign(self._secret, ts_ms)}"
        return url, body, headers

    def secrets(self) -> tuple[str | None, ...]:
        return (self._url, self._secret)


class WeComChannel(_ErrcodeChannel):
    kind = "wecom"

    def __init__(
        self,
        name: str,
        url: str,
        client: httpx.AsyncClient,
        *,
        mentioned_mobiles: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(name, url, client, **kwargs)
        self._mentions = list(mentioned_mobiles or [])

    def payload(self, message: AlarmMessage) -> dict[str, Any]:
        return formats.wecom_payload(self.rendered(message), mentioned_mobiles=self._mentions)


class FeishuChannel(_ErrcodeChannel):
    kind = "feishu"
    code_field = "code"

    def __init__(
        self,
        name: str,
        url: str,
        client: httpx.AsyncClient,
        *,
        secret: str | None = None,
        style: str = "interactive",
        **kwargs: Any,
    ) -> None:
        super().__init__(name, url, client, **kwargs)
        self._secret = secret
        self._style = style

    def payload(self, message: AlarmMessage) -> dict[str, Any]:
        return formats.feishu_payload(
            self.rendered(message),
            style=self._style,
            secret=self._secret,
            timestamp_s=int(self._clock()),
        )

    def secrets(self) -> tuple[str | None, ...]:
        return (self._url, self._secret)


class SlackChannel(HttpChannel):
    kind = "slack"

    def payload(self, message: AlarmMessage) -> dict[str, Any]:
        return formats.slack_payload(self.rendered(message))


class TeamsChannel(HttpChannel):
    kind = "teams"

    def __init__(
        self,
        name: str,
        url: str,
        client: httpx.AsyncClient,
        *,
        style: str = "adaptive",
        **kwargs: Any,
    ) -> None:
        super().__init__(name, url, client, **kwargs)
        self._style = style

    def payload(self, message: AlarmMessage) -> dict[str, Any]:
        r = self.rendered(message)
        if self._style == "messagecard":
            return formats.teams_messagecard_payload(r)
        return formats.teams_adaptive_payload(r)


def _json_bytes(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def _snippet(response: httpx.Response) -> str:
    try:
        return response.text[:200]
    except Exception:  # undecodable body
        return f"<{len(response.content)} bytes>"
