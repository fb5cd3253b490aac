"""English and Chinese wording of notifications.

A message renders to a title and a list of (label, value) facts; each channel lays these out
in its own markup (`formats.py`). Keeping the words in one table per language is what lets a
plant switch a channel to Chinese with one config key and get the same facts.

Rule wording names the side of the center line ("WE2: 2 of 3 points beyond 2σ above"): the
operator's first question is whether the process drifted up or down. Rules without a side
(trends, alternation, stratification, mixture) fall back to `spc.describe_rule`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo

from service.alerting.message import AlarmMessage

Fact = tuple[str, str]

_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "plant": "Plant",
        "line": "Line",
        "characteristic": "Characteristic",
        "rule": "Rule",
        "severity": "Severity",
        "value": "Last value",
        "limits": "Limits",
        "time": "Time",
        "chart": "Open chart",
        "note": "Note",
        "period": "Period",
        "rules": "Rules",
        "alarms": "Alarms",
        "open_for": "Open for",
        "minutes": "min",
        "channel": "Channel",
        "station": "station",
        "title.alarm.opened": "Out of control: {name} ({where}) — {rule}",
        "title.alarm.hit": "Still out of control: {name} ({where}) — {rule}",
        "title.alarm.acknowledged": "Acknowledged: {name} ({where}) — {rule}",
        "title.alarm.closed": "Back in control: {name} ({where}) — {rule}",
        "title.escalation": (
            "Escalation L{level}{label}: {name} ({where}) not acknowledged for {minutes} min"
        ),
        "title.digest": "{count} repeated violations: {name} ({where})",
        "title.test": "Linewatch test message",
        "test.body": "If you can read this, channel {channel} works.",
        "above": "above",
        "below": "below",
        "critical": "critical",
        "warning": "warning",
        "info": "info",
    },
    "zh": {
        "plant": "工厂",
        "line": "产线",
        "characteristic": "特性",
        "rule": "判异规则",
        "severity": "严重度",
        "value": "最新值",
        "limits": "控制限",
        "time": "时间",
        "chart": "查看控制图",
        "note": "备注",
        "period": "时段",
        "rules": "规则",
        "alarms": "报警",
        "open_for": "持续",
        "minutes": "分钟",
        "channel": "通道",
        "station": "工位",
        "title.alarm.opened": "失控报警：{name}（{where}）— {rule}",
        "title.alarm.hit": "仍然失控：{name}（{where}）— {rule}",
        "title.alarm.acknowledged": "报警已确认：{name}（{where}）— {rule}",
        "title.alarm.closed": "已恢复受控：{name}（{where}）— {rule}",
        "title.escalation": "报警升级 L{level}{label}：{name}（{where}）已 {minutes} 分钟未确认",
        "title.digest": "重复判异 {count} 次：{name}（{where}）",
        "title.test": "Linewatch 测试消息",
        "test.body": "收到此消息说明通道 {channel} 工作正常。",
        "above": "上方",
        "below": "下方",
        "critical": "严重",
        "warning": "警告",
        "info": "提示",
    },
}

# Side-aware wording of the zone and run rules (ARCHITECTURE.md rule table); `{side}` is
# "above"/"below" (en) or "上方"/"下方" (zh).
_RULES: dict[str, dict[str, str]] = {
    "en": {
        "1of1": "1 point beyond 3σ {side}",
        "2of3": "2 of 3 points beyond 2σ {side}",
        "4of5": "4 of 5 points beyond 1σ {side}",
        "8run": "8 points in a row {side} the center line",
        "9run": "9 points in a row {side} the center line",
    },
    "zh": {
        "1of1": "1 点超出 3σ（中心线{side}）",
        "2of3": "连续 3 点中有 2 点超出 2σ（中心线{side}）",
        "4of5": "连续 5 点中有 4 点超出 1σ（中心线{side}）",
        "8run": "连续 8 点位于中心线{side}",
        "9run": "连续 9 点位于中心线{side}",
    },
}
_RULE_SHAPE = {
    "WE1": "1of1",
    "N1": "1of1",
    "WE2": "2of3",
    "N5": "2of3",
    "WE3": "4of5",
    "N6": "4of5",
    "WE4": "8run",
    "N2": "9run",
}
_SEP = {"en": ": ", "zh": "："}


@dataclass(frozen=True, slots=True)
class Rendered:
    """A message in words: the channel-neutral result of `render`."""

    title: str
    facts: tuple[Fact, ...]
    link: str | None
    link_label: str
    severity: str
    body: str | None = None

    def text(self) -> str:
        """Plain text: e-mail text part, WeCom/DingTalk fallbacks, Slack notification text."""
        lines = [self.title, ""]
        if self.body:
            lines += [self.body, ""]
        lines += [f"{label}: {value}" for label, value in self.facts]
        if self.link:
            lines += ["", f"{self.link_label}: {self.link}"]
        return "\n".join(lines)


def words(lang: str) -> dict[str, str]:
    return _WORDS.get(lang, _WORDS["en"])


def rule_phrase(message: AlarmMessage, lang: str = "en") -> str:
    """ "WE2: 2 of 3 points beyond 2σ above" (the rule in words, with the side when it has one)."""
    rule = message.rule
    if not rule:
        return message.rule_text or ""
    shape = _RULE_SHAPE.get(rule)
    side = message.side
    if shape is not None and side is not None:
        phrase = _RULES.get(lang, _RULES["en"])[shape].format(side=words(lang)[side])
        return f"{rule}{_SEP.get(lang, ': ')}{phrase}"
    try:
        from spc import describe_rule

        return describe_rule(rule, lang)
    except Exception:  # spc may not know a chart-specific rule name (EWMA, CUSUM)
        return message.rule_text or rule


def fmt_number(value: float | None, unit: str | None = None) -> str:
    if value is None:
        return "–"
    text = f"{value:.6g}"
    return f"{text} {unit}" if unit else text


def fmt_time(ts: datetime, tz: tzinfo) -> str:
    local = ts.astimezone(tz)
    offset = local.strftime("%z")
    offset = f"{offset[:3]}:{offset[3:]}" if len(offset) == 5 else offset
    return f"{local:%Y-%m-%d %H:%M:%S} {offset}"


def render(message: AlarmMessage, lang: str = "en", tz: tzinfo | str = "UTC") -> Rendered:
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    w = words(lang)
    where = " / ".join(p for p in (message.line, message.station) if p) or (message.site or "–")
    rule_short = message.rule or ""
    if message.side and message.rule:
        rule_short = f"{message.rule} {w[message.side]}"
    values = {
        "name": message.display_name,
        "where": where,
        "rule": rule_short,
        "level": message.escalation_level or 0,
        "label": f" ({message.escalation_label})" if message.escalation_label else "",
        "minutes": f"{message.minutes_open:.0f}" if message.minutes_open is not None else "?",
        "count": message.digest.count if message.digest else 0,
    }
    if lang == "zh" and message.escalation_label:
        values["label"] = f"（{message.escalation_label}）"
    if message.kind == "test":
        return Rendered(
            title=w["title.test"],
            facts=((w["time"], fmt_time(message.ts, zone)),),
            link=message.chart_url,
            link_label=w["chart"],
            severity="info",
            body=w["test.body"].format(channel=message.note or "?"),
        )
    if message.kind == "escalation":
        title = w["title.escalation"].format(**values)
    elif message.kind == "digest":
        title = w["title.digest"].format(**values)
    else:
        key = f"title.{message.event}"
        title = w.get(key, w["title.alarm.opened"]).format(**values)
    facts: list[Fact] = []
    if message.site:
        facts.append((w["plant"], message.site))
    if message.line or message.station:
        line = message.line or "–"
        if message.station:
            line = f"{line} ({w['station']} {message.station})"
        facts.append((w["line"], line))
    char = message.display_name
    if message.characteristic_name and message.characteristic_name != message.characteristic:
        char = f"{message.characteristic_name} ({message.characteristic})"
    facts.append((w["characteristic"], char))
    if message.digest is not None:
        d = message.digest
        facts.append((w["period"], f"{fmt_time(d.first_ts, zone)} – {fmt_time(d.last_ts, zone)}"))
        if d.by_rule:
            facts.append((w["rules"], ", ".join(f"{r} ×{n}" for r, n in sorted(d.by_rule.items()))))
        if d.alarm_ids:
            facts.append((w["alarms"], ", ".join(f"#{a}" for a in d.alarm_ids)))
    elif message.rule:
        facts.append((w["rule"], rule_phrase(message, lang)))
    facts.append((w["severity"], w.get(message.severity, message.severity)))
    if message.minutes_open is not None:
        facts.append((w["open_for"], f"{message.minutes_open:.0f} {w['minutes']}"))
    if message.value is not None:
        facts.append((w["value"], fmt_number(message.value, message.unit)))
    if message.center is not None or message.lcl is not None or message.ucl is not None:
        limits = (
            f"LCL {fmt_number(message.lcl)} · CL {fmt_number(message.center)}"
            f" · UCL {fmt_number(message.ucl)}"
        )
        facts.append((w["limits"], limits))
    ts = message.digest.last_ts if message.digest else message.ts
    facts.append((w["time"], fmt_time(ts, zone)))
    if message.note:
        facts.append((w["note"], message.note))
    return Rendered(
        title=title,
        facts=tuple(facts),
        link=message.chart_url,
        link_label=w["chart"],
        severity=message.severity,
    )
