"""HTTP channels against a real local server: body, signature and each vendor's payload schema."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from urllib.parse import quote_plus

import httpx
import pytest
from alerting_receivers import Answer, HttpReceiver, free_port

from service.alerting import formats
from service.alerting.channels.http import (
    DingTalkChannel,
    FeishuChannel,
    SlackChannel,
    TeamsChannel,
    WebhookChannel,
    WeComChannel,
)
from service.alerting.message import AlarmMessage

pytestmark = pytest.mark.anyio

FIXED_NOW = 1_790_000_000.25


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_webhook_body_and_signature(receiver: HttpReceiver, opened_message: AlarmMessage):
    secret = "whsec-test"
    async with httpx.AsyncClient() as client:
        channel = WebhookChannel(
            "hook", receiver.url + "/hook", client, secret=secret, clock=lambda: FIXED_NOW
        )
        result = await channel.send(opened_message.with_delivery("n-17"))
    assert result.ok and result.status_code == 200
    (req,) = receiver.wait_for(1)
    assert req.path == "/hook"
    headers = {k.lower(): v for k, v in req.headers.items()}
    assert headers["x-linewatch-timestamp"] == str(int(FIXED_NOW))
    assert headers["x-linewatch-event"] == "alarm.opened"
    assert headers["x-linewatch-delivery"] == "n-17"
    # Independent verification, as a receiver would do it: HMAC over "<ts>." + raw body.
    expected = hmac.new(
        secret.encode(), f"{int(FIXED_NOW)}.".encode() + req.body, hashlib.sha256
    ).hexdigest()
    assert headers["x-linewatch-signature"] == f"sha256={expected}"
    assert not formats.verify_webhook_signature(
        secret, headers["x-linewatch-timestamp"], req.body + b" ", headers["x-linewatch-signature"]
    )
    body = req.json()
    assert body["event"] == "alarm.opened"
    assert body["alarm_id"] == 42
    assert body["characteristic"] == "line1.op20.bore"
    assert body["rule"] == "WE2" and body["side"] == "above"
    assert body["value"] == pytest.approx(74.0154)
    assert body["ucl"] == pytest.approx(74.014304)
    assert body["ts"] == "2026-11-26T10:00:00.123000Z"
    assert body["delivery_id"] == "n-17"
    assert "WE2: 2 of 3 points beyond 2σ above" in body["text"]["body"]


async def test_webhook_without_secret_has_no_signature(receiver, opened_message):
    async with httpx.AsyncClient() as client:
        result = await WebhookChannel("hook", receiver.url, client).send(opened_message)
    assert result.ok
    (req,) = receiver.wait_for(1)
    assert "x-linewatch-signature" not in {k.lower() for k in req.headers}


@pytest.mark.parametrize(
    ("status", "retryable"), [(500, True), (503, True), (429, True), (400, False), (404, False)]
)
async def test_webhook_http_errors(receiver, opened_message, status, retryable):
    receiver.default = Answer(status=status, body=b"nope")
    async with httpx.AsyncClient() as client:
        result = await WebhookChannel("hook", receiver.url, client).send(opened_message)
    assert not result.ok
    assert result.status_code == status
    assert result.retryable is retryable
    assert f"HTTP {status}" in result.detail


async def test_webhook_timeout_is_bounded_and_retryable(receiver, opened_message):
    receiver.default = Answer(delay_s=2.0)
    async with httpx.AsyncClient() as client:
        channel = WebhookChannel("hook", receiver.url, client, timeout_s=0.3)
        started = time.monotonic()
        result = await channel.send(opened_message)
    assert time.monotonic() - started < 1.5
    assert not result.ok and result.retryable
    assert "Timeout" in result.detail


async def test_receiver_down_is_retryable_and_hides_the_secret(opened_message):
    url = f"http://127.0.0.1:{free_port()}/robot/send?access_token=TOPSECRET"
    async with httpx.AsyncClient() as client:
        result = await DingTalkChannel("ding", url, client, secret="SECabc").send(opened_message)
    assert not result.ok and result.retryable
    assert "TOPSECRET" not in result.detail and "SECabc" not in result.detail


async def test_dingtalk_markdown_and_sign(receiver, opened_message):
    secret = "SEC0123456789abcdef"
    url = receiver.url + "/robot/send?access_token=tok123"
    async with httpx.AsyncClient() as client:
        channel = DingTalkChannel(
            "ding", url, client, secret=secret, at_mobiles=["13800000000"], clock=lambda: FIXED_NOW
        )
        result = await channel.send(opened_message)
    assert result.ok
    (req,) = receiver.wait_for(1)
    assert req.path == "/robot/send"
    assert req.query["access_token"] == "tok123"
    ts_ms = int(FIXED_NOW * 1000)
    assert req.query["timestamp"] == str(ts_ms)
    # DingTalk's documented algorithm: base64(HmacSHA256(key=secret, "<ts>\n<secret>")).
    digest = hmac.new(secret.encode(), f"{ts_ms}\n{secret}".encode(), hashlib.sha256).digest()
    assert req.query["sign"] == base64.b64encode(digest).decode()  # parse_qs decoded it once
    assert formats.dingtalk_sign(secret, ts_ms) == quote_plus(base64.b64encode(digest).decode())
    body = req.json()
    assert body["msgtype"] == "markdown"
    assert set(body["markdown"]) == {"title", "text"}
    assert body["markdown"]["title"].startswith("Out of control: Bore diameter")
    assert "WE2: 2 of 3 points beyond 2σ above" in body["markdown"]["text"]
    assert "[Open chart](http://dash.local:8050/" in body["markdown"]["text"]
    assert body["at"] == {"atMobiles": ["13800000000"], "isAtAll": False}
    assert "@13800000000" in body["markdown"]["text"]


@pytest.mark.parametrize(("code", "retryable"), [(130101, True), (310000, False)])
async def test_dingtalk_error_codes(receiver, opened_message, code, retryable):
    receiver.default = Answer(body=f'{{"errcode":{code},"errmsg":"x"}}'.encode())
    async with httpx.AsyncClient() as client:
        result = await DingTalkChannel("ding", receiver.url, client).send(opened_message)
    assert not result.ok and result.retryable is retryable
    assert str(code) in result.detail


async def test_wecom_markdown_in_chinese(receiver, opened_message):
    async with httpx.AsyncClient() as client:
        channel = WeComChannel(
            "wx",
            receiver.url + "/cgi-bin/webhook/send?key=k1",
            client,
            language="zh",
            tz="Asia/Shanghai",
        )
        result = await channel.send(opened_message)
    assert result.ok
    (req,) = receiver.wait_for(1)
    assert req.query == {"key": "k1"}
    body = req.json()
    assert body["msgtype"] == "markdown"
    content = body["markdown"]["content"]
    assert set(body["markdown"]) == {"content"}
    assert len(content.encode()) <= 4096
    assert "失控报警" in content
    assert "WE2：连续 3 点中有 2 点超出 2σ（中心线上方）" in content
    assert "2026-11-26 18:00:00 +08:00" in content  # 10:00 UTC in Shanghai
    assert "[查看控制图](http://dash.local:8050/" in content


async def test_wecom_error_code(receiver, opened_message):
    receiver.default = Answer(body=b'{"errcode":93000,"errmsg":"invalid webhook url"}')
    async with httpx.AsyncClient() as client:
        result = await WeComChannel("wx", receiver.url, client).send(opened_message)
    assert not result.ok and not result.retryable


async def test_feishu_interactive_card_with_signature(receiver, opened_message):
    secret = "feishu-secret"
    async with httpx.AsyncClient() as client:
        channel = FeishuChannel(
            "fs",
            receiver.url + "/open-apis/bot/v2/hook/abc",
            client,
            secret=secret,
            clock=lambda: FIXED_NOW,
        )
        result = await channel.send(opened_message)
    assert result.ok
    (req,) = receiver.wait_for(1)
    body = req.json()
    ts = int(FIXED_NOW)
    assert body["timestamp"] == str(ts)
    # Feishu's documented algorithm: key = "<ts>\n<secret>", message empty, base64.
    key = f"{ts}\n{secret}".encode()
    assert body["sign"] == base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
    assert body["msg_type"] == "interactive"
    card = body["card"]
    assert card["header"]["title"]["tag"] == "plain_text"
    assert card["header"]["template"] == "orange"
    div, action = card["elements"]
    assert div["tag"] == "div" and div["text"]["tag"] == "lark_md"
    assert "WE2: 2 of 3 points beyond 2σ above" in div["text"]["content"]
    (button,) = action["actions"]
    assert button["tag"] == "button" and button["url"].startswith("http://dash.local:8050/")


async def test_feishu_post_without_secret(receiver, opened_message):
    async with httpx.AsyncClient() as client:
        result = await FeishuChannel("fs", receiver.url, client, style="post").send(opened_message)
    assert result.ok
    body = receiver.wait_for(1)[0].json()
    assert "sign" not in body and "timestamp" not in body
    assert body["msg_type"] == "post"
    post = body["content"]["post"]["zh_cn"]
    assert post["title"].startswith("Out of control")
    assert all(isinstance(row, list) and row[0]["tag"] in ("text", "a") for row in post["content"])
    assert post["content"][-1][0] == {
        "tag": "a",
        "text": "Open chart",
        "href": opened_message.chart_url,
    }


async def test_feishu_error_code(receiver, opened_message):
    receiver.default = Answer(body=b'{"code":19021,"msg":"sign match fail"}')
    async with httpx.AsyncClient() as client:
        result = await FeishuChannel("fs", receiver.url, client).send(opened_message)
    assert not result.ok and not result.retryable and "19021" in result.detail


async def test_slack_blocks(receiver, opened_message):
    receiver.default = Answer(body=b"ok", content_type="text/plain")
    async with httpx.AsyncClient() as client:
        result = await SlackChannel("slack", receiver.url + "/services/T/B/X", client).send(
            opened_message
        )
    assert result.ok
    body = receiver.wait_for(1)[0].json()
    assert body["text"].startswith("Out of control")
    header, *sections, actions = body["blocks"]
    assert header["type"] == "header" and header["text"]["type"] == "plain_text"
    assert len(header["text"]["text"]) <= 150
    for section in sections:
        assert section["type"] == "section"
        assert 1 <= len(section["fields"]) <= 10
        assert all(f["type"] == "mrkdwn" for f in section["fields"])
    texts = [f["text"] for s in sections for f in s["fields"]]
    assert "*Rule*\nWE2: 2 of 3 points beyond 2σ above" in texts
    assert actions["type"] == "actions"
    assert actions["elements"][0]["url"] == opened_message.chart_url


async def test_teams_adaptive_card(receiver, opened_message):
    receiver.default = Answer(status=202, body=b"")
    async with httpx.AsyncClient() as client:
        result = await TeamsChannel("teams", receiver.url, client).send(opened_message)
    assert result.ok and result.status_code == 202
    body = receiver.wait_for(1)[0].json()
    assert body["type"] == "message"
    (attachment,) = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    facts = next(b for b in card["body"] if b["type"] == "FactSet")["facts"]
    assert {"title": "Last value", "value": "74.0154 mm"} in facts
    assert card["actions"] == [
        {"type": "Action.OpenUrl", "title": "Open chart", "url": opened_message.chart_url}
    ]


async def test_teams_legacy_message_card(receiver, opened_message):
    receiver.default = Answer(body=b"1", content_type="text/plain")
    async with httpx.AsyncClient() as client:
        channel = TeamsChannel("teams", receiver.url, client, style="messagecard")
        result = await channel.send(opened_message)
    assert result.ok
    body = receiver.wait_for(1)[0].json()
    assert body["@type"] == "MessageCard"
    assert body["@context"] == "https://schema.org/extensions"
    assert body["summary"] == body["title"]
    assert body["themeColor"] == "E88B00"
    assert body["potentialAction"][0]["@type"] == "OpenUri"
    assert body["potentialAction"][0]["targets"] == [
        {"os": "default", "uri": opened_message.chart_url}
    ]
