"""Vendor payloads and signatures, as pure functions of a rendered message.

Formats, as each vendor documents its incoming-webhook robot:
- DingTalk custom robot: `{"msgtype": "markdown", "markdown": {"title", "text"}, "at": {...}}`;
  signed robots add `timestamp` (ms) and `sign` = urlencode(base64(HMAC-SHA256(key=secret,
  msg=f"{timestamp}\\n{secret}"))) to the query string. Answer `{"errcode": 0, "errmsg": "ok"}`.
- WeCom (企业微信) group robot: `{"msgtype": "markdown", "markdown": {"content"}}`, content at most
  4096 bytes; answer `{"errcode": 0, ...}`.
- Feishu/Lark custom bot: `{"msg_type": "interactive", "card": {...}}` (or `"post"` rich text);
  signed bots add `timestamp` (seconds, string) and `sign` = base64(HMAC-SHA256(key=
  f"{timestamp}\\n{secret}", msg=b"")) to the body. Answer `{"code": 0, ...}`.
- Slack incoming webhook: `{"text": fallback, "blocks": [...]}` (Block Kit); answer `ok`.
- Microsoft Teams: Workflows webhooks take `{"type": "message", "attachments": [{"contentType":
  "application/vnd.microsoft.card.adaptive", "content": AdaptiveCard 1.4}]}`; the retired
  Office 365 connectors took a legacy `MessageCard`, still offered as `style = "messagecard"`.

Generic webhook signature (documented for receivers in deploy/alerting.example.toml):
`X-Linewatch-Timestamp: <unix seconds>` and `X-Linewatch-Signature: sha256=<hex>` where hex =
HMAC-SHA256(secret, f"{timestamp}.".encode() + raw_body). Signing the timestamp with the body
lets a receiver reject replays older than a few minutes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any
from urllib.parse import quote_plus

from service.alerting.templates import Rendered

SIGNATURE_HEADER = "X-Linewatch-Signature"
TIMESTAMP_HEADER = "X-Linewatch-Timestamp"
EVENT_HEADER = "X-Linewatch-Event"
DELIVERY_HEADER = "X-Linewatch-Delivery"

WECOM_MAX_BYTES = 4096

_COLORS = {"critical": "#D70000", "warning": "#E88B00", "info": "#1F6FD1"}
_FEISHU_TEMPLATE = {"critical": "red", "warning": "orange", "info": "blue"}
_TEAMS_COLOR = {"critical": "Attention", "warning": "Warning", "info": "Accent"}
_WECOM_FONT = {"critical": "warning", "warning": "warning", "info": "info"}


def webhook_signature(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def verify_webhook_signature(secret: str, timestamp: str, body: bytes, header: str) -> bool:
    """What a receiver runs (and what our tests run): constant-time compare."""
    expected = webhook_signature(secret, int(timestamp), body)
    return hmac.compare_digest(expected, header)


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """The `sign` query value for a DingTalk robot with "加签" security (already URL-encoded)."""
    to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), to_sign, hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest).decode())


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """The `sign` body field of a Feishu/Lark custom bot with signature verification."""
    key = f"{timestamp_s}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def _markdown_lines(r: Rendered, bold: str = "**") -> list[str]:
    lines = [f"{bold}{label}{bold}: {value}" for label, value in r.facts]
    if r.body:
        lines.insert(0, r.body)
    return lines


def dingtalk_payload(
    r: Rendered, *, at_mobiles: list[str] | None = None, at_all: bool = False
) -> dict[str, Any]:
    # DingTalk markdown needs a blank line (or two trailing spaces) for a line break.
    parts = [f"### {r.title}", *_markdown_lines(r)]
    if r.link:
        parts.append(f"[{r.link_label}]({r.link})")
    mentions = at_mobiles or []
    if mentions:
        parts.append(" ".join(f"@{m}" for m in mentions))
    return {
        "msgtype": "markdown",
        "markdown": {"title": r.title, "text": "\n\n".join(parts)},
        "at": {"atMobiles": mentions, "isAtAll": at_all},
    }


def wecom_payload(r: Rendered, *, mentioned_mobiles: list[str] | None = None) -> dict[str, Any]:
    color = _WECOM_FONT.get(r.severity, "comment")
    lines = [f'## <font color="{color}">{r.title}</font>']
    lines += [f'> {label}: <font color="comment">{value}</font>' for label, value in r.facts]
    if r.body:
        lines.insert(1, r.body)
    if r.link:
        lines.append(f"[{r.link_label}]({r.link})")
    lines += [f"<@{m}>" for m in mentioned_mobiles or []]
    content = "\n".join(lines)
    encoded = content.encode()
    if len(encoded) > WECOM_MAX_BYTES:
        content = encoded[: WECOM_MAX_BYTES - 3].decode(errors="ignore") + "…"
    return {"msgtype": "markdown", "markdown": {"content": content}}


def feishu_payload(
    r: Rendered, *, style: str = "interactive", secret: str | None = None, timestamp_s: int = 0
) -> dict[str, Any]:
    body: dict[str, Any]
    if style == "post":
        rows: list[list[dict[str, Any]]] = [
            [{"tag": "text", "text": f"{label}: {value}"}] for label, value in r.facts
        ]
        if r.body:
            rows.insert(0, [{"tag": "text", "text": r.body}])
        if r.link:
            rows.append([{"tag": "a", "text": r.link_label, "href": r.link}])
        body = {
            "msg_type": "post",
            "content": {"post": {"zh_cn": {"title": r.title, "content": rows}}},
        }
    else:
        elements: list[dict[str, Any]] = [
            {"tag": "div", "text": {"tag": "lark_md", "content": "\n".join(_markdown_lines(r))}}
        ]
        if r.link:
            elements.append(
                {
                    "tag": "action",
                    "actions": [
                        {
                            "tag": "button",
                            "text": {"tag": "plain_text", "content": r.link_label},
                            "url": r.link,
                            "type": "primary",
                        }
                    ],
                }
            )
        body = {
            "msg_type": "interactive",
            "card": {
                "config": {"wide_screen_mode": True},
                "header": {
                    "title": {"tag": "plain_text", "content": r.title},
                    "template": _FEISHU_TEMPLATE.get(r.severity, "blue"),
                },
                "elements": elements,
            },
        }
    if secret:
        body = {"timestamp": str(timestamp_s), "sign": feishu_sign(secret, timestamp_s), **body}
    return body


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(r: Rendered) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": r.title[:150]}},
    ]
    if r.body:
        text = {"type": "mrkdwn", "text": _slack_escape(r.body)}
        blocks.append({"type": "section", "text": text})
    fields = [
        {"type": "mrkdwn", "text": f"*{_slack_escape(label)}*\n{_slack_escape(value)}"}
        for label, value in r.facts
    ]
    for start in range(0, len(fields), 10):  # Block Kit allows 10 fields per section
        blocks.append({"type": "section", "fields": fields[start : start + 10]})
    if r.link:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": r.link_label},
                        "url": r.link,
                        "style": "danger" if r.severity == "critical" else "primary",
                    }
                ],
            }
        )
    return {"text": r.title, "blocks": blocks}


def teams_adaptive_payload(r: Rendered) -> dict[str, Any]:
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": r.title,
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
            "color": _TEAMS_COLOR.get(r.severity, "Default"),
        }
    ]
    if r.body:
        body.append({"type": "TextBlock", "text": r.body, "wrap": True})
    body.append(
        {"type": "FactSet", "facts": [{"title": label, "value": value} for label, value in r.facts]}
    )
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    if r.link:
        card["actions"] = [{"type": "Action.OpenUrl", "title": r.link_label, "url": r.link}]
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }


def teams_messagecard_payload(r: Rendered) -> dict[str, Any]:
    card: dict[str, Any] = {
        "@type": "MessageCard",
        "@context": "https://schema.org/extensions",
        "summary": r.title,
        "themeColor": _COLORS.get(r.severity, "#1F6FD1").lstrip("#"),
        "title": r.title,
        "sections": [{"facts": [{"name": label, "value": value} for label, value in r.facts]}],
    }
    if r.body:
        card["text"] = r.body
    if r.link:
        card["potentialAction"] = [
            {
                "@type": "OpenUri",
                "name": r.link_label,
                "targets": [{"os": "default", "uri": r.link}],
            }
        ]
    return card


def html_body(r: Rendered, *, chart_cid: str | None = None) -> str:
    """E-mail HTML: facts table, inline chart, link; inline styles only (mail clients)."""
    from html import escape

    color = _COLORS.get(r.severity, "#1F6FD1")
    rows = "".join(
        f'<tr><td style="padding:2px 12px 2px 0;color:#555">{escape(label)}</td>'
        f"<td>{escape(value)}</td></tr>"
        for label, value in r.facts
    )
    parts = [
        '<html><body style="font-family:Arial,Helvetica,sans-serif;font-size:14px">',
        f'<h2 style="color:{color};font-size:17px">{escape(r.title)}</h2>',
    ]
    if r.body:
        parts.append(f"<p>{escape(r.body)}</p>")
    parts.append(f"<table>{rows}</table>")
    if chart_cid:
        parts.append(f'<p><img src="cid:{chart_cid}" alt="chart" width="480" height="180"></p>')
    if r.link:
        parts.append(f'<p><a href="{escape(r.link, quote=True)}">{escape(r.link_label)}</a></p>')
    parts.append("</body></html>")
    return "".join(parts)
