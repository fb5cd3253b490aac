"""Code lists for acknowledging an alarm: assignable causes (grouped by the 6 M of Ishikawa's
cause-and-effect diagram) and corrective actions, with English and Chinese labels.

The service publishes the codes it accepts (``GET /api/v1/alarm-codes``, plain code strings);
these tables label the service's default codes in both languages and stand in when a service
publishes no list. Coded answers can be counted later, free text cannot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

CAUSES: dict[str, dict[str, str]] = {
    "tool-wear": {"en": "Machine: tool wear", "zh": "设备：刀具磨损"},
    "tool-breakage": {"en": "Machine: tool breakage", "zh": "设备：刀具破损"},
    "machine": {"en": "Machine: fault or drift", "zh": "设备：故障或漂移"},
    "setup": {"en": "Machine: setup or offset", "zh": "设备：调机或补偿"},
    "fixture": {"en": "Machine: fixture or clamping", "zh": "设备：夹具或装夹"},
    "material": {"en": "Material: lot or supplier", "zh": "材料：批次或供应商"},
    "method": {"en": "Method: procedure not followed", "zh": "方法：未按作业指导"},
    "operator": {"en": "Man: operator change or error", "zh": "人员：换人或操作失误"},
    "measurement-system": {"en": "Measurement: gauge or sampling", "zh": "测量：量具或抽样"},
    "environment": {"en": "Environment: temperature, humidity", "zh": "环境：温度、湿度"},
    "unknown": {"en": "Not found yet", "zh": "尚未查明"},
}

ACTIONS: dict[str, dict[str, str]] = {
    "adjusted": {"en": "Process adjusted / offset corrected", "zh": "调整工艺 / 修正补偿"},
    "tool-changed": {"en": "Tool changed", "zh": "更换刀具"},
    "repaired": {"en": "Machine or fixture repaired", "zh": "维修设备或夹具"},
    "recalibrated": {"en": "Gauge recalibrated", "zh": "量具重新校准"},
    "material-changed": {"en": "Material lot changed", "zh": "更换材料批次"},
    "parts-quarantined": {"en": "Suspect parts quarantined", "zh": "隔离可疑零件"},
    "line-stopped": {"en": "Line stopped", "zh": "停线"},
    "retrained": {"en": "Operator retrained", "zh": "人员再培训"},
    "no-action": {"en": "No action, monitoring", "zh": "暂不处理，继续观察"},
}


def options(
    kind: str, lang: str, published: Mapping[str, Any] | None = None
) -> list[dict[str, str]]:
    """Dropdown options ``[{"label", "value"}]`` for ``causes`` or ``actions``.

    The service's published list wins (it rejects codes outside it); its items may be plain
    codes, labelled from the tables above when known, or ``{"code", "label"}`` items.
    """
    items: Sequence[Any] = (published or {}).get(kind) or ()
    if items:
        out = []
        for item in items:
            if isinstance(item, Mapping):
                code = str(item.get("code") or item.get("value"))
                text = item.get(f"label_{lang}") or item.get("label") or code
                out.append({"label": str(text), "value": code})
            else:
                out.append({"label": label(kind, str(item), lang), "value": str(item)})
        return out
    table = CAUSES if kind == "causes" else ACTIONS
    return [
        {"label": labels[lang if lang in labels else "en"], "value": code}
        for code, labels in table.items()
    ]


def label(kind: str, code: str | None, lang: str) -> str:
    """Readable label of a stored code (unknown codes shown as they are)."""
    if not code:
        return ""
    table = CAUSES if kind == "causes" else ACTIONS
    return table.get(code, {}).get(lang, code)
