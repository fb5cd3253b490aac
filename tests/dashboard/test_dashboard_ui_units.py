"""i18n tables, roles, Cpk bands, code lists and the capability panel."""

from __future__ import annotations

import re

import pytest

from dashboard import codes, roles
from dashboard.components import capability_panel
from dashboard.figures.theme import cpk_band
from dashboard.figures.timefmt import format_age, to_utc_iso
from dashboard.i18n import EN, ZH, rule_text, t


def test_both_languages_have_the_same_keys_and_placeholders():
    assert set(EN) == set(ZH)
    for key in EN:
        assert set(re.findall(r"{(\w+)}", EN[key])) == set(re.findall(r"{(\w+)}", ZH[key])), key


def test_translation_fills_placeholders_and_falls_back():
    assert t("zh", "alarms.acked", id=5) == "报警 #5 已确认。"
    assert t("fr", "nav.alarms") == "Alarms"
    assert t("en", "no.such.key") == "no.such.key"
    assert rule_text("WE4", "zh") == "WE4: 连续 8 个点落在中心线同一侧"
    assert rule_text("XYZ", "en") == "XYZ"


@pytest.mark.parametrize(
    ("cpk", "band"),
    [
        (0.99, "red"),
        (1.0, "amber"),
        (1.329, "amber"),
        (1.33, "green"),
        (2.5, "green"),
        (None, "none"),
        (float("nan"), "none"),
    ],
)
def test_cpk_colour_bands(cpk, band):
    assert cpk_band(cpk) == band


def test_roles_form_a_ladder():
    assert roles.can("operator", "acknowledge")
    assert not roles.can("operator", "approve_limits")
    assert roles.can("engineer", "approve_limits")
    assert not roles.can("engineer", "quality_cost")
    assert roles.can("manager", "quality_cost") and roles.can("admin", "approve_limits")
    assert not roles.can(None, "view") and not roles.can("guest", "view")


def test_code_lists_default_and_published():
    default = codes.options("causes", "zh")
    assert {"label": "设备：刀具磨损", "value": "tool-wear"} in default
    published = {"actions": [{"code": "A1", "label": "Adjust"}, "A2", "tool-changed"]}
    assert codes.options("actions", "en", published) == [
        {"label": "Adjust", "value": "A1"},
        {"label": "A2", "value": "A2"},
        {"label": "Tool changed", "value": "tool-changed"},
    ]
    assert codes.label("causes", "fixture", "en") == "Machine: fixture or clamping"
    assert codes.label("causes", "custom-x", "en") == "custom-x"


def _text(component) -> str:
    if isinstance(component, str | int | float):
        return str(component)
    children = getattr(component, "children", None)
    if children is None:
        return ""
    if isinstance(children, list | tuple):
        return " ".join(_text(c) for c in children)
    return _text(children)


def _find(component, id_):
    if getattr(component, "id", None) == id_:
        return component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list | tuple) else [children]:
        if child is not None and not isinstance(child, str | int | float):
            found = _find(child, id_)
            if found is not None:
                return found
    return None


def test_capability_panel_shows_indices_bands_intervals_and_normality():
    cap = {
        "n": 125,
        "mean": 74.001,
        "sigma_within": 0.00979,
        "sigma_overall": 0.0101,
        "cp": 1.70,
        "cpk": 1.25,
        "pp": 1.65,
        "ppk": 0.95,
        "cpm": 1.69,
        "ci95": {"cp": [1.49, 1.91], "cpk": [1.10, 1.40]},
        "ppm": {"expected_total": 12.3, "observed_total": 0.0},
        "normality": {"test": "Anderson-Darling", "p_value": 0.41, "normal": True},
    }
    panel = capability_panel(cap, "en")
    cpk_row = _find(panel, "cap-cpk")
    assert "1.25" in _text(cpk_row) and "[1.1, 1.4]" in _text(cpk_row)
    assert cpk_row.children[1].children.className == "badge cpk cpk-amber"
    assert _find(panel, "cap-ppk").children[1].children.className == "badge cpk cpk-red"
    assert _find(panel, "cap-cp").children[1].children.className == "badge cpk cpk-green"
    assert "consistent with normal (Anderson-Darling, p = 0.41)" in _text(
        _find(panel, "cap-normality")
    )
    assert "12.3" in _text(panel) and "Observed PPM" in _text(panel)


def test_capability_panel_without_specs_says_so():
    assert "No specification limits" in _text(capability_panel({"n": 10, "mean": 1.0}, "en"))
    assert "未设规格限" in _text(capability_panel(None, "zh"))


def test_time_helpers():
    assert format_age(42) == "42 s"
    assert format_age(7 * 60 + 5) == "7 min"
    assert format_age(3 * 3600 + 5 * 60) == "3 h 05 min"
    assert format_age(2 * 86400 + 4 * 3600, "zh") == "2 天 4 小时"
    from zoneinfo import ZoneInfo

    assert to_utc_iso("2026-11-26 16:00:00", ZoneInfo("Asia/Shanghai")) == "2026-11-26T08:00:00Z"
